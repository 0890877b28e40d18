"""Lists that grow with the number of feeds come a page at a time: /sources, /removefeed and
/stats with 300 feeds (long, Arabic, emoji and HTML-like names), against the fake Bot API
server, which refuses what Telegram refuses (4096 UTF-16 units, 100 buttons, 64-byte data)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    button_data,
    make_bot_site,
    press,
    running_bot,
    say,
)
from support.fake_telegram import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_INLINE_BUTTONS,
    MAX_TEXT_UTF16,
    FakeTelegram,
    utf16_len,
)
from support.feed_server import FeedServer
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.config import FeedConfig
from bot.telegram.admin import REFUSAL
from bot.telegram.common import INVALID_BUTTON

T = TypeVar("T")
FEEDS = 300  # plus the site's own feed: 301 sources, 31 pages of 10
FAILING = range(0, FEEDS, 12)  # 25 feeds in trouble: 3 pages under /stats
LONG_NAME = ("<b>&" + " مصدر" * 80)[:300]
CHANNEL, CHANNEL_NAME, GROUP, MEMBER = -1009002, "@nashra_en", -200300, 3002


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def feed_name(i: int) -> str:
    """Names as hostile as real ones: 300 characters of HTML-like text, emoji (two UTF-16
    units each), long Arabic, and short ones."""
    if i == 0:
        return LONG_NAME
    if i % 3 == 0:
        return f"{i:03d} " + "📰" * 300
    if i % 3 == 1:
        return f"{i:03d} " + "وكالة الأنباء العربية " * 15
    return f"{i:03d} مصدر"


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path) -> BotSite:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package)
    now = datetime.now(UTC)
    with site.store() as store:  # configured nowhere: listed, never fetched by a refresh
        store.sync_feeds([FeedConfig(f"https://feeds.example/{i}.xml", feed_name(i))
                          for i in range(FEEDS)], now)
        ids = {f.url: f.id for f in store.feeds()}
        for i in FAILING:
            store.record_fetch_failure(ids[f"https://feeds.example/{i}.xml"], now,
                                       "<HTTP 500> & " + "🔥" * 500, now + timedelta(days=1))
    return site


def buttons(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in (message.get("reply_markup") or {}).get(
        "inline_keyboard", []) for b in row]


def toggles(message: dict[str, Any]) -> list[str]:
    return [data for data in buttons(message) if ":p:" not in data]


def assert_fits(message: dict[str, Any]) -> None:
    """What Telegram would accept (the fake refuses anything else, too)."""
    assert utf16_len(message["text"]) <= MAX_TEXT_UTF16
    assert len(buttons(message)) <= MAX_INLINE_BUTTONS
    assert all(len(d.encode()) <= MAX_CALLBACK_DATA_BYTES for d in buttons(message))


async def showing(tg: FakeTelegram, chat: int, message_id: int,
                  part: str) -> dict[str, Any]:
    """The message once an edit put ``part`` in its text."""
    def current() -> dict[str, Any] | None:
        message = tg.message(chat, message_id)
        return message if message and part in message["text"] else None
    message = await tg.wait_for_async(current, message=f"a message showing {part!r}")
    assert_fits(message)
    return message


def all_answered(tg: FakeTelegram) -> None:
    """No send or edit was refused by the (fake) Bot API."""
    refused = [c for c in tg.calls() if c["method"] in ("sendMessage", "editMessageText")
               and c["status"] not in (200, 0)]
    assert refused == []


def test_sources_page_toggle_keeps_the_page_and_forged_pages(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            first = await say(tg, "/sources")
            assert first["text"].startswith("Sources 1–10 of 301 — tap to include or exclude:")
            assert_fits(first)
            assert len(toggles(first)) == 10 and button_data(first, "Next") == "src:p:2"
            assert "Previous" not in str(first["reply_markup"])
            mid = first["message_id"]
            await press(tg, READER, mid, "src:p:2")
            second = await showing(tg, READER, mid, "Sources 11–20 of 301")
            assert button_data(second, "Previous") == "src:p:1"
            await press(tg, READER, mid, button_data(second, "Next"))
            third = await showing(tg, READER, mid, "Sources 21–30 of 301")
            data = toggles(third)[2]
            feed_id = int(data.split(":")[1])
            assert data == f"src:{feed_id}:3"
            answered = await press(tg, READER, mid, data)
            assert answered["text"].endswith(": excluded")
            await tg.wait_for_async(lambda: "⬜" in (tg.message(READER, mid) or {})["text"])
            after = await showing(tg, READER, mid, "Sources 21–30 of 301")
            assert toggles(after) == toggles(third)  # the same page, the same buttons
            assert after["reply_markup"]["inline_keyboard"][2][0]["text"].startswith("⬜")
            with site.store() as store:
                chat = store.get_chat(READER)
                assert chat is not None and chat.excluded_feeds == {feed_id}
            for forged, expected in [
                ("src:p:32", "That page is no longer there. Send /sources again for a fresh "
                 "list."), ("src:p:0", None), ("src:p:abc", None), ("src:p:" + "9" * 50, None),
                (f"src:{feed_id}:abc", INVALID_BUTTON), (f"src:{feed_id}:0", INVALID_BUTTON),
            ]:
                answered = await press(tg, READER, mid, forged, check_button=False)
                assert answered["show_alert"], forged
                assert answered["text"] == (expected or "That page is no longer there. Send "
                                            "/sources again for a fresh list."), forged
            assert tg.message(READER, mid)["text"] == after["text"]  # type: ignore[index]
            await press(tg, READER, mid, "src:p:31", check_button=False)
            last = await showing(tg, READER, mid, "Sources 301–301 of 301")
            assert len(toggles(last)) == 1 and "Next" not in str(last["reply_markup"])
            all_answered(tg)

    run(scenario())


def test_long_hostile_names_are_escaped_and_clipped(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            for command, marker in [("/sources", "✅ \u2068<b>&"),
                                    ("/removefeed", "#2 \u2068<b>&"),
                                    ("/stats", "• \u2068<b>&")]:
                shown = await say(tg, command, chat=ADMIN)
                assert_fits(shown)
                assert "&lt;b&gt;&amp;" in shown["raw_text"], command
                line = next(x for x in shown["text"].split("\n") if x.startswith(marker))
                name = line[len(marker) - 4:].split("\u2069")[0]
                assert name.endswith("…") and len(name) <= 60 and LONG_NAME.startswith(
                    " ".join(name[:-1].split())), (command, name)
                assert all(e["type"] != "bold" or e["length"] < 30
                           for e in shown["entities"]), command  # no bold from a name
            label = tg.sent(ADMIN)[0]["reply_markup"]["inline_keyboard"][1][0]["text"]
            assert label.startswith("✅ <b>&") and len(label) <= 42
            all_answered(tg)

    run(scenario())


def test_removefeed_pages_and_removes_from_a_later_page(site: BotSite) -> None:
    tg = site.telegram
    no_page = "That page is no longer there. Send /removefeed again for a fresh list."

    async def scenario() -> None:
        async with running_bot(site):
            first = await say(tg, "/removefeed", chat=ADMIN)
            assert first["text"].startswith("Sources 1–10 of 301 — tap one to remove it")
            assert_fits(first)
            mid = first["message_id"]
            refused = await press(tg, ADMIN, mid, button_data(first, "Next"),
                                  user_id=READER)
            assert refused["text"] == REFUSAL and refused["show_alert"]
            # The only source on the last page: removed, the page before it shows.
            await press(tg, ADMIN, mid, "rmfeed:p:31", check_button=False)
            last = await showing(tg, ADMIN, mid, "Sources 301–301 of 301")
            assert len(toggles(last)) == 1 and "Next" not in str(last["reply_markup"])
            assert (await press(tg, ADMIN, mid, toggles(last)[0]))["text"] == "Removed"
            before = await showing(tg, ADMIN, mid, "\nSources 291–300 of 300 — tap one")
            assert before["text"].startswith("Removed \u2068") and "Next" not in str(
                before["reply_markup"])
            await press(tg, ADMIN, mid, "rmfeed:p:2", check_button=False)
            second = await showing(tg, ADMIN, mid, "Sources 11–20 of 300")
            assert not second["text"].startswith("Removed")
            data = toggles(second)[3]
            feed_id = int(data.split(":")[1])
            assert data == f"rmfeed:{feed_id}:2"
            assert (await press(tg, ADMIN, mid, data))["text"] == "Removed"
            after = await showing(tg, ADMIN, mid, "\nSources 11–20 of 299 — tap one")
            assert data not in toggles(after) and len(toggles(after)) == 10
            assert button_data(after, "Previous") == "rmfeed:p:1"
            with site.store() as store:
                assert feed_id not in {f.id for f in store.feeds(active_only=True)}
            assert (await press(tg, ADMIN, mid, data, check_button=False))["text"] == \
                "That source no longer exists."
            for forged in ("rmfeed:p:31", "rmfeed:p:0", "rmfeed:p:x"):
                answered = await press(tg, ADMIN, mid, forged, check_button=False)
                assert answered["text"] == no_page and answered["show_alert"], forged
            all_answered(tg)

    run(scenario())


def test_stats_totals_and_pages_of_failing_feeds(site: BotSite) -> None:
    tg = site.telegram
    no_page = "That page is no longer there. Send /stats again for a fresh list."

    async def scenario() -> None:
        async with running_bot(site):
            first = await say(tg, "/stats", chat=ADMIN)
            assert first["text"].startswith("Nashra · 301 sources · 7 articles")
            assert "\nSources with errors: 25 · showing 1–10 of 25\n" in first["text"]
            assert first["text"].count("\n• ") == 10 and "× — <HTTP 500> & 🔥" in first["text"]
            assert buttons(first) == ["stats:p:2"]
            assert_fits(first)
            mid = first["message_id"]
            await press(tg, ADMIN, mid, "stats:p:2")
            second = await showing(tg, ADMIN, mid, "showing 11–20 of 25")
            assert buttons(second) == ["stats:p:1", "stats:p:3"]
            await press(tg, ADMIN, mid, "stats:p:3")
            third = await showing(tg, ADMIN, mid, "showing 21–25 of 25")
            assert third["text"].count("\n• ") == 5 and buttons(third) == ["stats:p:2"]
            for forged in ("stats:p:4", "stats:p:0", "stats:", "stats:p:" + "9" * 40):
                answered = await press(tg, ADMIN, mid, forged, check_button=False)
                assert answered["text"] == no_page and answered["show_alert"], forged
            refused = await press(tg, ADMIN, mid, "stats:p:2", user_id=READER)
            assert refused["text"] == REFUSAL
            all_answered(tg)

    run(scenario())


def test_channel_sources_page_with_the_channel_suffix(site: BotSite) -> None:
    tg = site.telegram
    tg.add_chat(CHANNEL, chat_type="channel", title="Nashra EN", username=CHANNEL_NAME[1:])
    tg.set_admin(CHANNEL, READER, creator=True)
    tg.set_admin(CHANNEL, tg.bot_id)
    tg.set_admin(GROUP, ADMIN)
    tg.set_member(GROUP, MEMBER)

    async def scenario() -> None:
        async with running_bot(site):
            await say(tg, f"/subscribe {CHANNEL_NAME}")
            first = await say(tg, f"/sources {CHANNEL_NAME}")
            assert first["text"].startswith(f"Sources for {CHANNEL_NAME} 1–10 of 301")
            assert button_data(first, "Next") == f"src:p:2@{CHANNEL}"
            mid = first["message_id"]
            await press(tg, READER, mid, f"src:p:2@{CHANNEL}")
            second = await showing(tg, READER, mid, f"Sources for {CHANNEL_NAME} 11–20 of 301")
            data = toggles(second)[0]
            assert data.endswith(f":2@{CHANNEL}")
            await press(tg, READER, mid, data)
            await tg.wait_for_async(lambda: "⬜" in (tg.message(READER, mid) or {})["text"])
            await showing(tg, READER, mid, f"Sources for {CHANNEL_NAME} 11–20 of 301")
            with site.store() as store:
                channel, mine = store.get_chat(CHANNEL), store.get_chat(READER)
            assert channel is not None and channel.excluded_feeds == {
                int(data.split(":")[1])}
            assert mine is None or not mine.excluded_feeds  # the private chat is untouched
            # In a group anyone may look through the pages; only its administrators toggle.
            listing = await say(tg, "/sources", chat=GROUP, user_id=MEMBER)
            await press(tg, GROUP, listing["message_id"], "src:p:2", user_id=MEMBER)
            page = await showing(tg, GROUP, listing["message_id"], "Sources 11–20 of 301")
            refused = await press(tg, GROUP, listing["message_id"], toggles(page)[0],
                                  user_id=MEMBER)
            assert refused["show_alert"] and refused["text"].startswith("Only this group's")
            all_answered(tg)

    run(scenario())


def test_fake_refuses_more_than_100_buttons(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> None:
        bot = fake_telegram.make_bot()
        async with bot:
            many = [[InlineKeyboardButton(str(n), callback_data=str(n))] for n in range(101)]
            with pytest.raises(BadRequest, match="eply markup is too long"):
                await bot.send_message(1, "x", reply_markup=InlineKeyboardMarkup(many))
            sent = await bot.send_message(1, "x", reply_markup=InlineKeyboardMarkup(many[:100]))
            with pytest.raises(BadRequest, match="eply markup is too long"):
                await bot.edit_message_reply_markup(1, sent.message_id,
                                                    reply_markup=InlineKeyboardMarkup(many))

    run(scenario())
