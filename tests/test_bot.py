"""The Telegram bot end to end: the real python-telegram-bot client, the fake Bot API server,
loopback feeds, the synthetic model and a real database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.arabic_samples import ARTICLES
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    button_data,
    make_bot_site,
    postgres_url_of,
    running_bot,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.due import next_due
from bot.query import query_help
from bot.telegram.handlers import COMMANDS
from bot.telegram.schedule import TICK_ENV

T = TypeVar("T")
GROUP = -200300
GROUP_ADMIN, GROUP_MEMBER = 3001, 3002


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def quick_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digests come at most one tick after their time: a short tick instead of waiting."""
    monkeypatch.setenv(TICK_ENV, "0.5")


def due_at(site: BotSite, chat_id: int) -> datetime | None:
    with site.store() as store:
        return next_due(store, chat_id)


def is_next(due: datetime | None, times: tuple[str, ...], after: datetime) -> bool:
    """``due`` is the first of these UTC times after ``after``."""
    days = (after.date(), after.date() + timedelta(days=1))
    candidates = [datetime.combine(d, datetime.strptime(t, "%H:%M").time(), tzinfo=UTC)
                  for d in days for t in times]
    return due == min(c for c in candidates if c > after)


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path,
         store_location: Path | str) -> BotSite:
    # /addfeed tests add loopback feeds, which only the operator may allow.
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         extra=["allow_private = true"],
                         database_url=postgres_url_of(store_location))


async def say(tg: FakeTelegram, text: str, chat: int = READER, **kw: Any) -> dict[str, Any]:
    """Send ``text`` as a user and return the bot's next message in that chat."""
    before = len(tg.sent(chat))
    tg.push_message(chat, text, **kw)
    messages = await tg.wait_for_messages_async(chat, before + 1)
    return messages[before]


def test_start_registers_commands_and_offers_subscribe(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            answer = await say(tg, "/start")
            assert answer["text"].startswith("Nashra — Arabic news, in English.")
            for name, _ in COMMANDS:
                assert f"/{name}" in answer["text"]
            assert button_data(answer, "Subscribe") == "subscribe"
            assert [c["command"] for c in tg.commands()] == [name for name, _ in COMMANDS]

    run(scenario())


def test_subscribe_then_button_and_unsubscribe(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            before = datetime.now(UTC)
            answer = await say(tg, "/subscribe")
            assert "Subscribed. Digests at 08:00, 20:00 (UTC), up to 10 stories" \
                in answer["text"]
            assert is_next(due_at(site, READER), ("08:00", "20:00"), before)
            answer = await say(tg, "/unsubscribe")
            assert answer["text"].startswith("Unsubscribed")
            assert due_at(site, READER) is None
            start = await say(tg, "/start")
            tg.push_callback(READER, start["message_id"], "subscribe")
            await tg.wait_for_async(lambda: "Subscribed" in tg.sent(READER)[-1]["text"])
        with site.store() as store:
            chat = store.get_chat(READER)
            assert chat is not None and chat.subscribed

    run(scenario())


def test_digest_now_then_nothing_new(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            digest = await say(tg, "/digest")
            assert digest["parse_mode"] == "HTML"
            assert digest["text"].startswith("Nashra digest — ")
            items = re.findall(r"^\d+\. ", digest["text"], re.M)
            assert len(items) == 7
            assert [e["type"] for e in digest["entities"]].count("text_link") == 7
            call = next(c for c in tg.calls("sendMessage")
                        if c["params"]["text"] == digest["raw_text"])
            assert call["params"]["link_preview_options"] == {"is_disabled": True}
            again = await say(tg, "/digest")
            assert re.fullmatch(r"Nothing new since \d\d:\d\d \(UTC\)\.", again["text"])

    run(scenario())


def test_scheduled_digest_arrives_and_settings_move_the_due_time(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            await say(tg, "/subscribe")
            at = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
            soon = f"{at:%H:%M:%S}"
            answer = await say(tg, f"/settings times {soon}")
            assert answer["text"] == (f"Saved. Digests at {soon} (UTC), up to 10 stories each.")
            assert due_at(site, READER) == at
            count = len(tg.sent(READER))
            messages = await tg.wait_for_messages_async(READER, count + 1, timeout=15)
            assert messages[count]["text"].startswith("Nashra digest")
            await tg.wait_for_async(lambda: due_at(site, READER) == at + timedelta(days=1))

    run(scenario())


def test_settings_menus_and_validation(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            menu = await say(tg, "/settings")
            tg.push_callback(READER, menu["message_id"], button_data(menu, "Times"))
            await tg.wait_for_async(lambda: tg.edits(READER))
            times_menu = tg.message(READER, menu["message_id"])
            assert times_menu is not None
            tg.push_callback(READER, menu["message_id"], button_data(times_menu, "07:00"))
            await tg.wait_for_async(lambda: "07:00, 08:00, 20:00" in
                                    (tg.message(READER, menu["message_id"]) or {})["text"])
            assert due_at(site, READER) is None  # not subscribed: no digest time
            for text, expected in [
                ("/settings timezone Mars/Base", "Unknown timezone Mars/Base"),
                ("/settings times 25:00", "25:00 is not a time"),
                ("/settings items lots", "Items per digest must be a number from 1 to 30."),
                ("/settings items 5", "up to 5 stories each"),
                ("/settings timezone Africa/Cairo", "(Africa/Cairo)"),
            ]:
                assert expected in (await say(tg, text))["text"], text
            tg.push_callback(READER, menu["message_id"], button_data(
                tg.message(READER, menu["message_id"]) or {}, "Back"))
            await tg.wait_for_async(lambda: "Timezone" in str(
                (tg.message(READER, menu["message_id"]) or {}).get("reply_markup")))
            tg.push_callback(READER, menu["message_id"], "set:times")
            await tg.wait_for_async(lambda: "Custom" in str(
                (tg.message(READER, menu["message_id"]) or {}).get("reply_markup")))
            tg.push_callback(READER, menu["message_id"], "set:custom:times")
            prompt = await tg.wait_for_messages_async(READER, len(tg.sent(READER)) + 1)
            assert "HH:MM" in prompt[-1]["text"]
            saved = await say(tg, "06:30 21:15")
            assert "Digests at 06:30, 21:15 (Africa/Cairo), up to 5 stories" in saved["text"]

    run(scenario())


def test_search_pages_with_buttons_and_arabic(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            usage = await say(tg, "/search")
            assert usage["text"] == query_help()
            having = [a for a in ARTICLES if "في" in re.findall(r"[^\W_]+", a.title + a.text)]
            assert len(having) > 5
            first = await say(tg, "/search في")
            assert "results 1–5" in first["text"]
            assert len(re.findall(r"^\d+\. ", first["text"], re.M)) == 5
            assert any(e["type"] == "bold" for e in first["entities"])
            tg.push_callback(READER, first["message_id"], button_data(first, "Next"))
            await tg.wait_for_async(lambda: f"results 6–{len(having)}" in
                                    (tg.message(READER, first["message_id"]) or {})["text"])
            second = tg.message(READER, first["message_id"]) or {}
            assert button_data(second, "Previous").endswith(":0")
            diacritics = await say(tg, "/search المُنتخب")
            assert "results 1–1" in diacritics["text"]
            none = await say(tg, "/search zzzzqqq")
            assert none["text"] == "No results for zzzzqqq."

    run(scenario())


def test_sources_toggle_limits_the_digest(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            listing = await say(tg, "/sources")
            assert "✅" in listing["text"]
            data = listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            tg.push_callback(READER, listing["message_id"], data)
            await tg.wait_for_async(lambda: tg.edits(READER))
            answer = await say(tg, "/digest")
            assert answer["text"].startswith("Nothing in the last 48 hours")

    run(scenario())


def test_admin_commands_refused_for_others_and_work_for_admins(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            refused = await say(tg, f"/addfeed {site.feeds.url('/feed.xml')}")
            assert refused["text"] == "Sorry, only the bot's administrators can do that."
            assert (await say(tg, "/stats"))["text"] == refused["text"]
            added = await say(tg, f"/addfeed {site.feeds.url('/feed.xml')} Mirror", chat=ADMIN)
            assert added["text"].startswith("Added Mirror: 7 items")
            bad = await say(tg, f"/addfeed {site.feeds.url('/missing.xml')}", chat=ADMIN)
            assert bad["text"] == "Not added: fetch: HTTP 404 Not Found"
            stats = await say(tg, "/stats", chat=ADMIN)
            assert "7 articles" in stats["text"] and "Sources with errors: 0" in stats["text"]
            unknown = await say(tg, "/frobnicate")
            assert "/help" in unknown["text"]

    run(scenario())


def test_group_members_cannot_change_settings(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_admin(GROUP, GROUP_ADMIN)
            tg.set_member(GROUP, GROUP_MEMBER)
            refused = await say(tg, "/subscribe", chat=GROUP, user_id=GROUP_MEMBER)
            assert "Only this group's administrators" in refused["text"]
            ok = await say(tg, "/subscribe", chat=GROUP, user_id=GROUP_ADMIN)
            assert ok["text"].startswith("Subscribed")
            digest = await say(tg, "/digest", chat=GROUP, user_id=GROUP_MEMBER)
            assert digest["text"].startswith("Nashra digest")

    run(scenario())


def test_the_due_time_is_kept_across_a_restart_with_no_job_per_chat(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            await say(site.telegram, "/subscribe")
            before = datetime.now(UTC)
            await say(site.telegram, "/settings times 06:45 18:30")
            due = due_at(site, READER)
            assert is_next(due, ("06:45", "18:30"), before)
        async with running_bot(site) as app:
            assert app.job_queue is not None
            names = {job.name for job in app.job_queue.jobs()}
            assert names <= {"refresh", "digests", "digests:start", "tidy"}
            assert ("tidy" in names) == (not site.settings.storage.url)   # SQLite only
            assert due_at(site, READER) == due

    run(scenario())


def test_channel_subscription_by_its_admin(site: BotSite) -> None:
    channel = -1009001

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.add_chat(channel, chat_type="channel", title="Nashra EN", username="nashra_en")
            not_admin = await say(tg, "/subscribe @nashra_en")
            assert not_admin["text"] == "Only the channel's administrators can subscribe it."
            tg.set_admin(channel, READER)
            no_rights = await say(tg, "/subscribe @nashra_en")
            assert no_rights["text"].startswith("Make me an administrator")
            tg.set_admin(channel, tg.bot_id)
            ok = await say(tg, "/subscribe @nashra_en")
            assert ok["text"].startswith("Subscribed @nashra_en.")
            assert due_at(site, channel) is not None

    run(scenario())
