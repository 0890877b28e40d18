"""Digests through the real bot and the fake Bot API: nothing lost to an overlapping refresh,
no scheduled digest skipped (busy loop, restart), overflow paging, alerts, forum topics."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.arabic_samples import ARTICLES, rss_with_content_encoded
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    bot_process,
    make_bot_site,
    postgres_url_of,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.config import load_settings
from bot.digests import queue_digest
from bot.due import next_due
from bot.store.chats import SENT
from bot.telegram.schedule import TICK_ENV
from bot.telegram.services import SERVICES_KEY, NashraApp, Services

T = TypeVar("T")
ITEM = re.compile(r"^\d+\. ", re.M)
FIRST_BATCH, HELD_BATCH = ARTICLES[:4], ARTICLES[4:]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def svc_of(app: NashraApp) -> Services:
    found: Services = app.bot_data[SERVICES_KEY]
    return found


def with_feed(site: BotSite, url: str, name: str) -> BotSite:
    """The site with one more configured feed (appended to its config file)."""
    with site.config.open("a", encoding="utf-8") as config:
        config.write(f'[[feeds]]\nurl = "{url}"\nname = "{name}"\n')
    settings = load_settings(str(site.config), environ={"NASHRA_TELEGRAM_TOKEN":
                                                        site.telegram.token})
    return dataclasses.replace(site, settings=settings)


def all_sent(site: BotSite) -> bool:
    with site.store() as store:
        return all(m.status == SENT for m in store.outbox_messages())


def digests(tg: FakeTelegram, chat: int = READER) -> list[dict[str, Any]]:
    return [m for m in tg.sent(chat) if m["text"].startswith("Nashra digest")]


def test_a_digest_during_a_held_refresh_loses_none_of_its_articles(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path) -> None:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         articles=FIRST_BATCH)
    gate = threading.Event()
    slow = feed_server.add_gated("/slow.xml", rss_with_content_encoded(
        HELD_BATCH, feed_server.base_url), gate,
        headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    site = with_feed(site, slow, "Slow Agency")

    async def scenario() -> None:
        async with running_bot(site) as app:
            tg = site.telegram
            svc = svc_of(app)
            # The bot's first refresh starts two seconds in; the slow feed holds it open.
            await tg.wait_for_async(lambda: feed_server.requests_for("/slow.xml"))
            during = await say(tg, "/digest")
            assert len(ITEM.findall(during["text"])) == len(FIRST_BATCH)
            gate.set()
            await tg.wait_for_async(lambda: svc.last_report is not None
                                    and not svc.refresh_lock.locked())
            assert svc.last_report is not None and svc.last_report.new_articles == 3
            after = await say(tg, "/digest")
            assert after["text"].startswith("Nashra digest")
            assert len(ITEM.findall(after["text"])) == len(HELD_BATCH)
            held_ids = set(re.findall(r"/read_(\d+)", after["text"]))
            assert held_ids and not held_ids & set(re.findall(r"/read_(\d+)", during["text"]))

    run(scenario())


@pytest.fixture(autouse=True)
def quick_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digests come at most one tick after their time (30 s by default): a short tick here,
    also for the bot run as a process (it inherits the environment)."""
    monkeypatch.setenv(TICK_ENV, "0.5")


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path,
         store_location: Path | str) -> BotSite:
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url_of(store_location))


def test_a_digest_due_while_the_event_loop_is_busy_is_still_sent(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            await say(tg, "/subscribe")
            due = datetime.now(UTC) + timedelta(seconds=3)
            await say(tg, f"/settings times {due:%H:%M:%S}")
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 1))
            time.sleep(4)  # CPU work on the loop: the tick comes 3 s after the due time
            await tg.wait_for_async(lambda: digests(tg), timeout=15,
                                    message="the late digest")
            await asyncio.sleep(1.5)
            assert len(digests(tg)) == 1

    run(scenario())


def test_a_digest_due_during_a_restart_is_sent_once_after_it(site: BotSite) -> None:
    async def scenario() -> None:
        tg = site.telegram
        async with running_bot(site):
            await say(tg, "/subscribe")
            due = datetime.now(UTC) + timedelta(seconds=4)
            await say(tg, f"/settings times {due:%H:%M:%S}")
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 1))
        assert digests(tg) == []  # the bot was down at that time
        async with running_bot(site):
            await tg.wait_for_async(lambda: digests(tg), timeout=15,
                                    message="the caught-up digest")
            # Stopped only once the send is recorded: a stop between Telegram's answer and
            # that record is the one duplicate the README names, not a second serving.
            await tg.wait_for_async(lambda: all_sent(site), timeout=15,
                                    message="the send recorded")
        async with running_bot(site):  # restarting again serves that time no second time
            await asyncio.sleep(1.5)
        assert len(digests(tg)) == 1
        with site.store() as store:
            chat = store.get_chat(READER)
            assert chat is not None and chat.last_due_at == due.replace(microsecond=0)
            assert next_due(store, READER) == chat.last_due_at + timedelta(days=1)

    run(scenario())


def test_overflow_ends_with_a_count_and_a_button_for_the_next_page(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            assert "up to 3 stories" in (await say(tg, "/settings items 3"))["text"]
            first = await say(tg, "/digest")
            assert len(ITEM.findall(first["text"])) == 3
            assert "3 of 7 stories" in first["text"]
            assert first["text"].rstrip().endswith("…and 4 more stories.")
            [[button]] = first["reply_markup"]["inline_keyboard"]
            assert button["text"] == "Next 3 of 4 ▶"
            tg.push_callback(READER, first["message_id"], button["callback_data"])
            page = await tg.wait_for_messages_async(READER, len(tg.sent(READER)) + 1)
            second = page[-1]
            assert second["text"].startswith("Nashra digest, continued")
            assert "…and 1 more story." in second["text"]
            pressed = tg.message(READER, first["message_id"]) or {}
            assert "reply_markup" not in pressed or not pressed["reply_markup"]
            titles = set(re.findall(r"/read_(\d+)", first["text"] + second["text"]))
            assert len(titles) == 6

    run(scenario())


def test_alerts_arrive_after_the_refresh_and_count_as_sent(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path) -> None:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         articles=FIRST_BATCH)
    later = feed_server.add("/later.xml", rss_with_content_encoded(
        HELD_BATCH, feed_server.base_url),
        headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    site = with_feed(site, later, "Later Agency")
    word = HELD_BATCH[0].title.split()[0]

    with site.store() as store:
        store.ensure_chat(READER, "private", "reader", times=("08:00",), timezone="UTC",
                          max_items=10, now=datetime.now(UTC))
        assert store.add_chat_word(READER, "alert", word, datetime.now(UTC))

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            # The bot's first refresh (two seconds in) stores the later feed's articles.
            alerts = await tg.wait_for_async(
                lambda: [m for m in tg.sent(READER) if m["text"].startswith("🔔 Alert")],
                timeout=30)
            assert f"“{word}”" in alerts[0]["text"]
            digest = await say(tg, "/digest")
            sent_by_alert = {re.findall(r"/read_(\d+)", a["text"])[0] for a in alerts}
            assert not sent_by_alert & set(re.findall(r"/read_(\d+)", digest["text"]))

    run(scenario())


def test_a_gone_topic_falls_back_to_general_and_says_so_once(site: BotSite) -> None:
    group = -1005005

    async def scenario() -> None:
        async with running_bot(site) as app:
            tg = site.telegram
            tg.add_chat(group, chat_type="supergroup", title="forum", is_forum=True)
            tg.set_admin(group, READER)
            subscribed = await say(tg, "/subscribe", chat=group, user_id=READER,
                                   message_thread_id=77)
            assert "posted in this topic" in subscribed["text"]
            tg.delete_topic(group, 77)
            svc = svc_of(app)
            chat = svc.store.get_chat(group)
            assert chat is not None and chat.thread_id == 77
            assert queue_digest(svc, chat, datetime.now(UTC)) == len(ARTICLES)
            await tg.wait_for_async(lambda: len(tg.sent(group)) >= 3)
            texts = [m["text"] for m in tg.sent(group)]
            assert texts[1].startswith("Nashra digest")
            assert "topic these digests were posted in is gone" in texts[2]
            sends = [c for c in tg.calls("sendMessage")
                     if str(c["params"].get("chat_id")) == str(group)]
            threads = [c["params"].get("message_thread_id") for c in sends]
            assert [str(t) if t else None for t in threads] == ["77", "77", None, None]
            chat = svc.store.get_chat(group)
            assert chat is not None and chat.thread_id is None
            assert [m for m in tg.sent(ADMIN) if "topic" in m["text"]]  # the bot's admins

    run(scenario())


def test_a_digest_due_while_the_process_was_killed_comes_once_after_restarts(
        site: BotSite) -> None:
    tg = site.telegram
    at = datetime.now(UTC) + timedelta(seconds=8)
    with bot_process(site) as first:
        tg.push_message(READER, "/subscribe")
        tg.push_message(READER, f"/settings times {at:%H:%M:%S}")
        tg.wait_for(lambda: any(f"{at:%H:%M:%S}" in m["text"] for m in tg.sent(READER)),
                    timeout=30)
        first.send_signal(signal.SIGKILL)
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() + 1))
    assert digests(tg) == []  # killed before its time
    for _restart in range(2):
        with bot_process(site) as again:
            before = len(tg.sent(READER))
            tg.push_message(READER, "/help")  # answered: start-up (and its catch-up) is done
            tg.wait_for_messages(READER, before + 1, timeout=40)
            tg.wait_for(lambda: digests(tg), timeout=20, message="the caught-up digest")
            # Killed only once the send is recorded: between Telegram's answer and that
            # record lies the one duplicate no bot can rule out (see the README).
            tg.wait_for(lambda: all_sent(site), timeout=20, message="the send recorded")
            again.send_signal(signal.SIGKILL)
    assert len(digests(tg)) == 1


def test_filters_shape_the_digest(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            # Include "منتخب" (the text says "المُنتخب"), exclude "التضخم" (a headline word).
            added = await say(tg, "/filter +منتخب +بنك -التضخم")
            assert "منتخب" in added["text"]
            digest = await say(tg, "/digest")
            assert len(ITEM.findall(digest["text"])) == 1
            assert "national-team-semifinal" in digest["raw_text"]
            assert "central-bank-rates" not in digest["raw_text"]

    run(scenario())
