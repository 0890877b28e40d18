"""Channels managed from a private chat, forum topics, and silence inside channels: the real
bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from support.bot_harness import READER, BotSite, button_data, make_bot_site, press, running_bot, say
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.models import Chat

T = TypeVar("T")
CHANNEL, NAME = -1009002, "@nashra_en"
OTHER_CHANNEL, GROUP = -1009003, -1009004
STRANGER = 1002
FORUM, FORUM_ADMIN = -1007007, 7001
NOT_ADMIN = f"Only the administrators of {NAME} can manage it here."


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path) -> BotSite:
    fake_telegram.add_chat(CHANNEL, chat_type="channel", title="Nashra EN",
                           username=NAME[1:])
    fake_telegram.set_admin(CHANNEL, READER, creator=True)
    fake_telegram.set_admin(CHANNEL, fake_telegram.bot_id)
    fake_telegram.add_chat(OTHER_CHANNEL, chat_type="channel", username="never_subscribed")
    fake_telegram.set_admin(OTHER_CHANNEL, READER)
    fake_telegram.add_chat(GROUP, title="A group", username="a_group")
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package)


def chat(site: BotSite, chat_id: int) -> Chat:
    with site.store() as store:
        found = store.get_chat(chat_id)
    assert found is not None
    return found


def state(site: BotSite, chat_id: int) -> tuple[Any, ...]:
    c = chat(site, chat_id)
    with site.store() as store:
        words = store.chat_words(chat_id)
    return c.subscribed, c.times, c.timezone, c.max_items, c.excluded_feeds, words


async def settle(tg: FakeTelegram) -> None:
    """Updates are handled in order: once /help is answered, everything before it was."""
    assert (await say(tg, "/help"))["text"].startswith("Commands")


def test_channel_settings_sources_filters_from_a_private_chat(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, "/start")
            assert (await say(tg, f"/subscribe {NAME}"))["text"].startswith(f"Subscribed {NAME}.")
            mine = state(site, READER)
            menu = await say(tg, f"/settings {NAME}")
            assert menu["text"].startswith(f"Settings for {NAME}\nDigests at 08:00, 20:00")
            tz = button_data(menu, "Timezone")
            assert tz == f"set:tz@{CHANNEL}"
            await press(tg, READER, menu["message_id"], tz)
            await tg.wait_for_async(lambda: "Africa/Cairo" in str(
                (tg.message(READER, menu["message_id"]) or {}).get("reply_markup")))
            edited = tg.message(READER, menu["message_id"]) or {}
            assert edited["text"].startswith(f"Settings for {NAME}")
            cairo = button_data(edited, "Africa/Cairo")
            assert cairo == f"set:zone:Africa/Cairo@{CHANNEL}"
            await press(tg, READER, menu["message_id"], cairo)
            await tg.wait_for_async(lambda: chat(site, CHANNEL).timezone == "Africa/Cairo")
            items = await say(tg, f"/settings {NAME} items 5")
            assert items["text"] == (f"{NAME}: Saved. Digests at 08:00, 20:00 (Africa/Cairo), "
                                     "up to 5 stories each.")
            count = len(tg.sent(READER))
            await press(tg, READER, menu["message_id"], f"set:custom:times@{CHANNEL}",
                        check_button=False)
            prompt = await tg.wait_for_messages_async(READER, count + 1)
            assert prompt[-1]["text"].startswith(f"Send the digest times of {NAME} as HH:MM")
            await say(tg, "06:30")
            assert chat(site, CHANNEL).times == ("06:30",)
            channel = chat(site, CHANNEL)
            assert channel.next_due_at is not None
            local = channel.next_due_at.astimezone(ZoneInfo(channel.timezone))
            assert f"{local:%H:%M}" == "06:30"

            sources = await say(tg, f"/sources {NAME}")
            assert sources["text"].startswith(f"Sources for {NAME}")
            toggle = sources["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            assert toggle.endswith(f"@{CHANNEL}")
            await press(tg, READER, sources["message_id"], toggle)
            await tg.wait_for_async(lambda: chat(site, CHANNEL).excluded_feeds)

            added = await say(tg, f"/filter {NAME} +oil -football")
            assert added["text"].startswith(f"Filters for {NAME}\nAdded to the include words")
            await say(tg, f"/alert {NAME} gold")
            listing = await say(tg, f"/filter {NAME}")
            assert listing["text"].startswith(f"Filters for {NAME}")
            remove = button_data(listing, "football")
            assert remove.startswith("flt:") and remove.endswith(f"@{CHANNEL}")
            assert (await press(tg, READER, listing["message_id"], remove))["text"] == \
                "Removed: football"
            with site.store() as store:
                assert [(w.kind, w.word) for w in store.chat_words(CHANNEL)] == [
                    ("include", "oil"), ("alert", "gold")]

            gone = await say(tg, f"/unsubscribe {NAME}")
            assert gone["text"] == (f"Unsubscribed {NAME}: no more digests there. "
                                    f"/subscribe {NAME} brings them back.")
            assert not chat(site, CHANNEL).subscribed
            assert chat(site, CHANNEL).next_due_at is None
            assert state(site, READER) == mine  # the private chat itself never changed
            assert tg.sent(CHANNEL) == []

    run(scenario())


def test_non_admins_and_unknown_names_are_refused(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, f"/subscribe {NAME}")
            before = state(site, CHANNEL)
            for command in (f"/settings {NAME}", f"/settings {NAME} items 5",
                            f"/sources {NAME}", f"/filter {NAME} +oil", f"/alert {NAME}",
                            f"/unsubscribe {NAME}"):
                refused = await say(tg, command, chat=STRANGER)
                assert refused["text"] == NOT_ADMIN, command
            for command, expected in [
                ("/settings @never_subscribed", "I don't know @never_subscribed yet. Subscribe "
                 "it first: /subscribe @never_subscribed"),
                ("/sources @nobody_here", "I cannot see @nobody_here. Add me to the channel as "
                 "an administrator first."),
                ("/filter @a_group +oil", "@a_group is not a channel."),
                ("/alert @ab oil", "@ab is not a channel name. Send /alert @channelname in a "
                 "private chat with me."),
                (f"/sources {NAME} all", "/sources takes no arguments — send just /sources."),
            ]:
                assert (await say(tg, command))["text"] == expected, command
            tg.set_admin(GROUP, READER)
            in_group = await say(tg, f"/settings {NAME} items 5", chat=GROUP, user_id=READER)
            assert in_group["text"] == "Manage a channel from a private chat with me."
            assert state(site, CHANNEL) == before

    run(scenario())


def test_a_press_after_losing_admin_rights_is_refused(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, f"/subscribe {NAME}")
            await say(tg, f"/filter {NAME} +oil")
            menu = await say(tg, f"/settings {NAME}")
            sources = await say(tg, f"/sources {NAME}")
            filters = await say(tg, f"/filter {NAME}")
            await press(tg, READER, menu["message_id"], f"set:custom:times@{CHANNEL}",
                        check_button=False)
            await tg.wait_for_async(lambda: tg.sent(READER)[-1]["text"].startswith("Send "))
            before = state(site, CHANNEL)
            tg.set_member(CHANNEL, READER, "member")  # demoted while the menus are open
            for message, data in [
                (menu, f"set:n:5@{CHANNEL}"), (menu, f"set:times@{CHANNEL}"),
                (sources, sources["reply_markup"]["inline_keyboard"][0][0]["callback_data"]),
                (filters, button_data(filters, "oil")),
            ]:
                answered = await press(tg, READER, message["message_id"], data,
                                       check_button=False)
                assert answered["text"] == NOT_ADMIN and answered["show_alert"], data
            assert (await say(tg, "06:30"))["text"] == NOT_ADMIN  # the answer to "Custom…"
            assert state(site, CHANNEL) == before
            assert tg.message(READER, menu["message_id"])["text"] == menu["text"]  # type: ignore[index]
            # A forged suffix naming a private chat is no channel either.
            forged = await press(tg, READER, menu["message_id"], f"set:n:5@-{STRANGER}",
                                 check_button=False)
            assert forged["show_alert"] and forged["text"].endswith("is not a channel.")

    run(scenario())


def test_commands_posted_in_a_channel_get_no_answer(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, f"/subscribe {NAME}")
            for text in ("/frobnicate", "/subscribe", "/settings", "/filter +oil",
                         "/digest", "06:30", "Breaking: hello"):
                tg.push_channel_post(CHANNEL, text)
            await settle(tg)
            assert tg.sent(CHANNEL) == []
            assert tg.answers() == []
            with site.store() as store:
                assert store.chat_words(CHANNEL) == []

    run(scenario())


def test_subscribe_in_a_forum_topic_remembers_the_topic(site: BotSite) -> None:
    tg = site.telegram
    tg.set_admin(FORUM, FORUM_ADMIN)

    async def scenario() -> None:
        async with running_bot(site):
            topic = await say(tg, "/subscribe", chat=FORUM, user_id=FORUM_ADMIN,
                              message_thread_id=42)
            assert topic["message_thread_id"] == 42  # the answer is in the topic too
            assert topic["text"].startswith("Subscribed. Digests at 08:00, 20:00 (UTC)")
            assert "\nDigests will be posted in this topic." in topic["text"]
            assert chat(site, FORUM).thread_id == 42
            general = await say(tg, "/subscribe", chat=FORUM, user_id=FORUM_ADMIN)
            assert general["message_thread_id"] is None
            assert "this topic" not in general["text"]
            assert chat(site, FORUM).thread_id is None
            # The Subscribe button under /start, pressed in a topic, means that topic.
            start = await say(tg, "/start", chat=FORUM, user_id=FORUM_ADMIN,
                              message_thread_id=7)
            count = len(tg.sent(FORUM))
            await press(tg, FORUM, start["message_id"], "subscribe", user_id=FORUM_ADMIN)
            answer = (await tg.wait_for_messages_async(FORUM, count + 1))[-1]
            assert answer["message_thread_id"] == 7 and "this topic" in answer["text"]
            assert chat(site, FORUM).thread_id == 7
            refused = await say(tg, "/subscribe", chat=FORUM, message_thread_id=9)
            assert refused["text"].startswith("Only this group's administrators")
            assert chat(site, FORUM).thread_id == 7

    run(scenario())
