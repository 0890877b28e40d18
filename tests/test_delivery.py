"""Delivery that loses nothing: 429, 403, migrated groups, and a kill -9 between messages."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    article_variants,
    bot_process,
    make_bot_site,
    postgres_url_of,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.due import next_due
from bot.store.chats import FAILED, PENDING, SENDING, SENT
from bot.telegram.schedule import TICK_ENV

T = TypeVar("T")
OTHER = 1002
STORIES = 28


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def quick_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digests come at most one tick after their time: a short tick instead of waiting."""
    monkeypatch.setenv(TICK_ENV, "0.5")


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path,
         store_location: Path | str) -> BotSite:
    """28 stories and 30 items per digest: every digest spans several messages."""
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         articles=article_variants(4), extra=["[digest]", "max_items = 30"],
                         database_url=postgres_url_of(store_location))


def digest_numbers(texts: list[str]) -> list[int]:
    return [int(n) for text in texts for n in re.findall(r"^(\d+)\. ", text, re.M)]


def test_429_in_the_middle_of_a_digest_delays_but_loses_nothing(site: BotSite) -> None:
    tg = site.telegram
    tg.fail_next("sendMessage", retry_after=1, after=1, chat_id=READER)

    async def scenario() -> None:
        async with running_bot(site):
            tg.push_message(READER, "/digest")
            with site.store() as store:
                await tg.wait_for_async(lambda: store.outbox_messages(READER) and all(
                    m.status == SENT for m in store.outbox_messages(READER)), timeout=20)
                outbox = store.outbox_messages(READER)
            assert len(outbox) >= 3
            sent = [m["raw_text"] for m in tg.sent(READER)]
            assert sent == [m.text for m in outbox]  # every message once, in order
            assert digest_numbers([m["text"] for m in tg.sent(READER)]) == \
                list(range(1, STORIES + 1))
            assert [c["status"] for c in tg.calls("sendMessage")].count(429) == 1

    run(scenario())


def test_403_deactivates_that_chat_only(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site):
            soon = (datetime.now(UTC) + timedelta(seconds=6)).strftime("%H:%M:%S")
            for chat in (READER, OTHER):
                tg.push_message(chat, "/subscribe")
                tg.push_message(chat, f"/settings times {soon}")
                await tg.wait_for_messages_async(chat, 2)
            tg.block(READER)
            await tg.wait_for_async(lambda: digest_numbers(
                [m["text"] for m in tg.sent(OTHER)]) == list(range(1, STORIES + 1)), timeout=20)
            with site.store() as store:
                def reader_inactive() -> bool:
                    chat = store.get_chat(READER)
                    return chat is not None and not chat.subscribed

                await tg.wait_for_async(reader_inactive, timeout=20)
                reader = store.get_chat(READER)
                assert reader is not None
                assert "blocked" in (reader.inactive_reason or "")
                assert all(m.status not in (PENDING, SENDING)
                           for m in store.outbox_messages(READER))
                assert store.get_chat(OTHER).subscribed  # type: ignore[union-attr]
                assert next_due(store, READER) is None  # no more digest times
                assert next_due(store, OTHER) is not None
            assert len(tg.sent(READER)) == 2  # the two confirmations before the block

    run(scenario())


def test_migrated_group_is_followed(site: BotSite) -> None:
    tg = site.telegram
    group, supergroup, admin = -4001, -1004001, 4444
    tg.set_admin(group, admin)

    async def scenario() -> None:
        async with running_bot(site):
            tg.push_message(group, "/subscribe", user_id=admin)
            await tg.wait_for_messages_async(group, 1)
            tg.fail_next("sendMessage", migrate_to_chat_id=supergroup, chat_id=group)
            tg.push_message(group, "/digest", user_id=admin)
            await tg.wait_for_async(lambda: digest_numbers(
                [m["text"] for m in tg.sent(supergroup)]) == list(range(1, STORIES + 1)),
                timeout=20)
            with site.store() as store:
                moved = store.get_chat(supergroup)
                assert moved is not None and moved.subscribed
                assert store.get_chat(group) is None

    run(scenario())


def test_migrated_group_keeps_everything_under_the_new_id(site: BotSite) -> None:
    """Settings, sources, words, sent stories and watermark follow the group to its new id,
    and nothing is sent to the old id afterwards."""
    tg = site.telegram
    group, supergroup, admin = -4002, -1004002, 4445
    for chat in (group, supergroup):
        tg.set_admin(chat, admin)

    async def scenario() -> None:
        async with running_bot(site):
            for command in ("/subscribe", "/settings items 5", "/settings timezone Africa/Cairo",
                            "/settings times 07:30 19:00", "/filter -zzzqqq", "/alert qqqzzz"):
                await say(tg, command, group, user_id=admin)
            with site.store() as store:
                other = store.add_user_feed("http://127.0.0.1:9/other.xml", "Other",
                                            datetime.now(UTC))
                store.set_feed_active(other.id, False)
                store.set_feed_excluded(group, other.id, True)
                tg.push_message(group, "/digest", user_id=admin)
                await tg.wait_for_async(lambda: store.outbox_messages(group) and all(
                    m.status == SENT for m in store.outbox_messages(group)), timeout=20)
                before = store.get_chat(group)
                words = store.chat_words(group)
                stories = store.stories_sent(group, range(1, 1000))
                first_digest = store.outbox_messages(group)
            assert before is not None and len(stories) == 5
            tg.fail_next("sendMessage", migrate_to_chat_id=supergroup, chat_id=group)
            tg.push_message(group, "/digest", user_id=admin)
            with site.store() as store:
                await tg.wait_for_async(lambda: len(store.outbox_messages(supergroup)) >
                                        len(first_digest) and all(
                    m.status == SENT for m in store.outbox_messages(supergroup)), timeout=20)
                moved = store.get_chat(supergroup)
                assert store.get_chat(group) is None and not store.outbox_messages(group)
                assert moved is not None and moved.type == "supergroup"
                assert (moved.subscribed, moved.times, moved.timezone, moved.max_items,
                        moved.excluded_feeds, moved.thread_id, moved.subscribed_at) == (
                    True, ("07:30", "19:00"), "Africa/Cairo", 5, {other.id}, None,
                    before.subscribed_at)
                assert moved.watermark >= before.watermark > 0
                assert store.chat_words(supergroup) == words
                assert store.stories_sent(supergroup, range(1, 1000)) > stories  # none resent
                assert store.outbox_messages(supergroup)[:len(first_digest)] == [
                    replace(m, chat_id=supergroup) for m in first_digest]
            with site.store() as store:
                due = next_due(store, supergroup)
                assert due is not None and next_due(store, group) is None
                assert f"{due.astimezone(ZoneInfo('Africa/Cairo')):%H:%M}" in ("07:30", "19:00")
            answer = await say(tg, "/settings", supergroup, user_id=admin)
            assert "07:30" in answer["text"] and "Africa/Cairo" in answer["text"]
            to_old = [c for c in tg.calls("sendMessage") if int(c["params"]["chat_id"]) == group]
            assert to_old[-1]["status"] == 400  # the migrated answer was the last call there

    run(scenario())


def test_killed_between_two_messages_then_restarted(site: BotSite) -> None:
    tg = site.telegram
    # The second message gets a long 429: the process sleeps on it and is killed there.
    tg.fail_next("sendMessage", retry_after=60, after=1, chat_id=READER)
    with bot_process(site) as first:
        tg.push_message(READER, "/digest")
        tg.wait_for(lambda: 429 in [c["status"] for c in tg.calls("sendMessage")], timeout=30)
        with site.store() as store:  # the refused message is back to pending: now it waits
            tg.wait_for(lambda: [m.status for m in store.outbox_messages(READER)][1:2] == [
                PENDING], timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    with site.store() as store:
        statuses = [m.status for m in store.outbox_messages(READER)]
    assert statuses[0] == SENT and statuses[1:] and set(statuses[1:]) == {PENDING}
    assert len(tg.sent(READER)) == 1
    with bot_process(site) as second:
        tg.wait_for(lambda: len(tg.sent(READER)) >= len(statuses), timeout=30)
        time.sleep(1.5)  # anything sent twice would show up now
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        stderr = second.stderr.read() if second.stderr else ""
    with site.store() as store:
        outbox = store.outbox_messages(READER)
    assert [m.status for m in outbox] == [SENT] * len(outbox)
    assert [m["raw_text"] for m in tg.sent(READER)] == [m.text for m in outbox]
    assert digest_numbers([m["text"] for m in tg.sent(READER)]) == list(range(1, STORIES + 1))
    assert tg.token not in stderr
    assert "Traceback" not in stderr


def test_run_refuses_to_start_without_token(site: BotSite) -> None:
    import subprocess
    import sys

    env = site.env()
    env.pop("NASHRA_TELEGRAM_TOKEN")
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(site.config), "run"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("config: telegram.token is empty; set "
                                     "$NASHRA_TELEGRAM_TOKEN (or telegram.token in the config "
                                     "file)")


def test_other_400_fails_one_message_alerts_admins_once_and_continues(site: BotSite) -> None:
    tg = site.telegram
    tg.fail_next("sendMessage", code=400, description="Bad Request: can't parse entities: x",
                 after=1, chat_id=READER)

    async def scenario() -> None:
        async with running_bot(site):
            tg.push_message(READER, "/digest")
            with site.store() as store:
                await tg.wait_for_async(lambda: store.outbox_messages(READER) and all(
                    m.status in (SENT, FAILED) for m in store.outbox_messages(READER)),
                    timeout=20)
                statuses = [m.status for m in store.outbox_messages(READER)]
            assert statuses[1] == "failed"
            assert statuses[:1] + statuses[2:] == [SENT] * (len(statuses) - 1)
            alerts = await tg.wait_for_messages_async(ADMIN, 1)
            assert "can't parse entities" in alerts[0]["text"].lower()
            assert len(tg.sent(ADMIN)) == 1

    run(scenario())


def test_run_without_reachable_bot_api_stops_with_one_line(site: BotSite, tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "unreachable.toml"
    config.write_text(site.config.read_text().replace(
        site.telegram.base_url, "http://127.0.0.1:9/bot"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "run"],
                            env=site.env(), capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("telegram: could not start: ")
    assert site.telegram.token not in result.stderr


def test_group_upgraded_to_a_supergroup_keeps_its_settings_before_any_send(
        site: BotSite) -> None:
    """Telegram's migration service message moves the chat at once, not only when a send to
    the old id fails."""
    tg = site.telegram
    group, supergroup, admin = -4003, -1004003, 4446
    tg.set_admin(group, admin)

    async def scenario() -> None:
        async with running_bot(site):
            for command in ("/subscribe", "/settings items 7", "/filter -zzzqqq"):
                await say(tg, command, group, user_id=admin)
            tg.push_update({"message": {
                "message_id": 99, "date": int(time.time()),
                "chat": {"id": group, "type": "group", "title": "Readers"},
                "from": {"id": admin, "is_bot": False, "first_name": "Admin"},
                "migrate_to_chat_id": supergroup}})
            with site.store() as store:
                await tg.wait_for_async(lambda: store.get_chat(group) is None, timeout=20)
                moved = store.get_chat(supergroup)
                assert moved is not None and moved.subscribed and moved.max_items == 7
                assert store.chat_words(supergroup)
                assert next_due(store, supergroup) is not None

    run(scenario())
