"""The interface in Arabic, through the real python-telegram-bot client and the fake Bot API:
a chat takes its first user's Telegram language, /language switches it, Arabic replies
isolate the commands, names and numbers they carry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.bot_harness import (
    READER,
    BotSite,
    button_data,
    make_bot_site,
    postgres_url_of,
    press,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.digest import WEEKDAYS
from bot.i18n import FSI, LRI, PDI, translation
from bot.telegram.handlers import COMMANDS
from bot.telegram.inline import HELP_START

T = TypeVar("T")
ARABIC = re.compile(r"[\u0600-\u06FF]")
GROUP = -200400
GROUP_ADMIN, GROUP_MEMBER = 4001, 4002
CHANNEL = -1009002


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path, store_location: Path | str) -> BotSite:
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url_of(store_location))


async def edited_to(tg: FakeTelegram, chat_id: int, message_id: int,
                    part: str) -> dict[str, Any]:
    """The bot's message once an edit put ``part`` in its text or buttons."""
    def found() -> dict[str, Any] | None:
        message = tg.message(chat_id, message_id)
        if message is None:
            return None
        labels = [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
                  for b in row]
        return message if part in message["text"] or any(part in x for x in labels) else None
    return await tg.wait_for_async(found, message=f"an edit with {part!r}")


def chat_language(site: BotSite, chat_id: int) -> str | None:
    with site.store() as store:
        chat = store.get_chat(chat_id)
        assert chat is not None
        return chat.language


def test_an_arabic_conversation_then_english_with_language(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "ar")
            start = await say(tg, "/start")
            assert start["text"].startswith("نشرة — الأخبار العربية بالإنجليزية.")
            for name, _ in COMMANDS:  # each command line: the command isolated, then Arabic
                assert f"\u200f{FSI}/{name}{PDI} — " in start["text"]
            assert button_data(start, "اشترك") == "subscribe"
            assert chat_language(site, READER) == "ar"

            helped = await say(tg, "/help")
            assert helped["text"].startswith("الأوامر\n")
            # 60 minutes: Arabic's "many" form; the number isolated; commands LTR isolates.
            assert f"تُفحص المصادر كل {FSI}60{PDI} دقيقة." in helped["text"]
            assert f"اضغط {LRI}/read_ID{PDI} تحت أي بند" in helped["text"]

            subscribed = await say(tg, "/subscribe")
            assert subscribed["text"].startswith(
                f"تم الاشتراك. الموجزات في {FSI}08:00, 20:00{PDI} ({FSI}UTC{PDI})، "
                f"وفي كل موجز {FSI}10{PDI} من الأخبار على الأكثر.")
            assert f"بالأمر {LRI}/settings{PDI}،" in subscribed["text"]

            settings = await say(tg, "/settings")
            assert settings["text"].startswith("الإعدادات\n")
            menu = await press(tg, READER, settings["message_id"],
                               button_data(settings, "المواعيد"))
            assert menu["text"] is None
            edited = await edited_to(tg, READER, settings["message_id"], "رجوع")
            assert button_data(edited, "رجوع") == "set:menu"
            saved = await say(tg, "/settings timezone Africa/Cairo")
            assert saved["text"].startswith(f"تم الحفظ. الموجزات في {FSI}08:00, 20:00{PDI} "
                                            f"({FSI}Africa/Cairo{PDI})")
            wrong = await say(tg, "/settings timezone Mars/Olympus")
            assert wrong["text"].startswith(f"منطقة زمنية غير معروفة: {FSI}Mars/Olympus{PDI}.")
            unknown = await say(tg, "/frobnicate")
            assert unknown["text"] == f"لا أعرف هذا الأمر. يعرض {LRI}/help{PDI} ما أستطيع فعله."

            searching = await say(tg, f"/start {HELP_START}")
            assert searching["text"].startswith(f"ابحث في الأرشيف: {LRI}/search{PDI} ثم")
            assert f"\n{LRI}/search central bank{PDI}\n" in searching["text"]
            wrong = await say(tg, "/language fr")
            assert wrong["text"].startswith("الاستخدام:")
            shown = await say(tg, "/language")
            assert shown["text"].startswith("اللغة: العربية\nاختر لغة رسائلي وموجزاتي:")
            assert button_data(shown, "✅ العربية") == "lang:ar"
            pressed = await press(tg, READER, shown["message_id"],
                                  button_data(shown, "English"))
            assert pressed["text"] == "Language: English."
            assert chat_language(site, READER) == "en"
            edited = await edited_to(tg, READER, shown["message_id"], "Language: English\n")
            assert button_data(edited, "✅ English") == "lang:en"
            again = await say(tg, "/start")
            assert again["text"].startswith("Nashra — Arabic news, in English.")
            assert not set(again["text"]) & {FSI, LRI, PDI}
            back = await say(tg, "/language ar")
            assert back["text"] == f"اللغة: {FSI}العربية{PDI}."

    run(scenario())


def test_the_command_menu_is_registered_in_arabic_too(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            english, arabic = tg.commands(), tg.commands(language_code="ar")
            assert [c["command"] for c in arabic] == [c["command"] for c in english]
            assert [c["command"] for c in english] == [name for name, _ in COMMANDS]
            descriptions = {c["command"]: c["description"] for c in arabic}
            assert descriptions["language"] == "لغة الواجهة: الإنجليزية أو العربية"
            assert all(ARABIC.search(d) for d in descriptions.values())
            assert {c["command"]: c["description"] for c in english}["help"] == \
                "How to use Nashra"

    run(scenario())


def test_other_languages_and_no_language_get_english(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "fr")
            start = await say(tg, "/start")
            assert start["text"].startswith("Nashra — Arabic news, in English.")
            tg.set_language(READER + 1, None)
            other = await say(tg, "/help", chat=READER + 1)
            assert other["text"].startswith("Commands\n")
            tg.set_language(READER + 2, "ar-SA")
            arabic = await say(tg, "/help", chat=READER + 2)
            assert arabic["text"].startswith("الأوامر\n")
        assert chat_language(site, READER) == "en"
        assert chat_language(site, READER + 1) == "en"
        assert chat_language(site, READER + 2) == "ar"

    run(scenario())


def test_a_group_speaks_its_first_users_language_and_only_admins_change_it(
        site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_admin(GROUP, GROUP_ADMIN)
            tg.set_member(GROUP, GROUP_MEMBER)
            tg.set_language(GROUP_MEMBER, "ar")
            tg.set_language(GROUP_ADMIN, "en")
            shown = await say(tg, "/language", chat=GROUP, user_id=GROUP_MEMBER)
            assert shown["text"].startswith("اللغة: العربية")
            # The admin speaks English, but the group keeps the language it started with.
            refused = await say(tg, "/language en", chat=GROUP, user_id=GROUP_MEMBER)
            assert refused["text"] == "لا يغيّر اشتراك هذه المجموعة وإعداداتها إلا مشرفوها."
            pressed = await press(tg, GROUP, shown["message_id"], "lang:en",
                                  user_id=GROUP_MEMBER)
            assert pressed["show_alert"] and ARABIC.search(pressed["text"])
            assert chat_language(site, GROUP) == "ar"
            pressed = await press(tg, GROUP, shown["message_id"], "lang:en",
                                  user_id=GROUP_ADMIN)
            assert pressed["text"] == "Language: English."
            assert chat_language(site, GROUP) == "en"
            helped = await say(tg, "/help", chat=GROUP, user_id=GROUP_MEMBER)
            assert helped["text"].startswith("Commands\n")

    run(scenario())


def test_a_channel_takes_its_subscribers_language_and_is_switched_from_private(
        site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.add_chat(CHANNEL, chat_type="channel", title="Nashra AR", username="nashra_ar")
            tg.set_admin(CHANNEL, READER)
            tg.set_admin(CHANNEL, tg.bot_id)
            tg.set_language(READER, "ar")
            ok = await say(tg, "/subscribe @nashra_ar")
            assert ok["text"].startswith(f"تم اشتراك {FSI}@nashra_ar{PDI}.")
            assert f"{LRI}/language {FSI}@nashra_ar{PDI}{PDI}." in ok["text"]
            assert chat_language(site, CHANNEL) == "ar"
            shown = await say(tg, "/language @nashra_ar")
            assert shown["text"].startswith(
                f"{FSI}اللغة{PDI} للقناة {FSI}@nashra_ar{PDI}: العربية")
            pressed = await press(tg, READER, shown["message_id"],
                                  button_data(shown, "English"))
            # The private chat stays Arabic; the channel's digests turn English.
            assert pressed["text"] == \
                f"تصل موجزات {FSI}@nashra_ar{PDI} ورسائلها الآن باللغة {FSI}English{PDI}."
            assert chat_language(site, CHANNEL) == "en"
            assert chat_language(site, READER) == "ar"

    run(scenario())


def test_a_digest_for_an_arabic_chat_has_an_arabic_frame(site: BotSite) -> None:
    """The stories stay English (translated from Arabic); heading and counts are Arabic."""
    _ = translation("ar").gettext

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "ar")
            digest = await say(tg, "/digest")
            heading, counted = digest["text"].split("\n")[:2]
            names = [_(day) for day in WEEKDAYS]  # the day is named in Arabic
            assert all(ARABIC.search(n) for n in names) and any(n in heading for n in names)
            assert ARABIC.search(counted) and "stories" not in counted
            nothing = await say(tg, "/digest")
            assert nothing["text"].startswith("لا جديد منذ ")

    run(scenario())


def test_a_command_pasted_with_its_direction_marks_still_works(site: BotSite) -> None:
    """Copied out of an Arabic reply, "/settings times 07:30" may carry its isolates."""
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "ar")
            saved = await say(tg, f"\u200f{LRI}/settings times 07:30 {FSI}19:00{PDI}{PDI}")
            assert saved["text"].startswith(f"تم الحفظ. الموجزات في {FSI}07:30, 19:00{PDI}")
            helped = await say(tg, f"{LRI}/help{PDI}")
            assert helped["text"].startswith("الأوامر\n")
        with site.store() as store:
            chat = store.get_chat(READER)
            assert chat is not None and chat.times == ("07:30", "19:00")

    run(scenario())
