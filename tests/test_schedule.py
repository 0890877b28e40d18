"""Digest times stored per chat and served by one tick, with injected clocks: local times
across DST changes, catch-up limits, many chats due at once, restarts and crashes between
serving and storing the next time, and the schema 6 backfill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.offline_services import offline_services
from support.old_schema import database_at_schema

from bot.config import FeedConfig
from bot.digests import serve_due
from bot.due import latest_due, next_due, next_due_after, reschedule
from bot.models import Article, Chat
from bot.store import Store
from bot.telegram.services import Services

CHAT = 5151
FEED = FeedConfig("https://feed.example/rss", "Outlet")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def chat(times: tuple[str, ...], timezone: str) -> Chat:
    return Chat(id=CHAT, type="private", title="t", subscribed=True, times=times,
                timezone=timezone, max_items=10)


def test_times_are_in_the_chats_zone_across_dst_changes() -> None:
    berlin = chat(("08:00",), "Europe/Berlin")
    # Summer time ended on 25 October 2026: 08:00 Berlin is 06:00 UTC before, 07:00 after.
    assert latest_due(berlin, utc(2026, 10, 24, 9)) == utc(2026, 10, 24, 6)
    assert next_due_after(berlin, utc(2026, 10, 24, 9)) == utc(2026, 10, 25, 7)
    night = chat(("02:30",), "Europe/Berlin")
    # 29 March 2026: 02:00 jumps to 03:00, so 02:30 comes at 03:00 CEST (01:00 UTC).
    assert next_due_after(night, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)
    assert next_due_after(night, utc(2026, 3, 29, 1)) == utc(2026, 3, 30, 0, 30)
    # 25 October 2026: 02:30 happens twice (00:30 and 01:30 UTC); only the first counts.
    assert next_due_after(night, utc(2026, 10, 24, 12)) == utc(2026, 10, 25, 0, 30)
    assert next_due_after(night, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)
    riyadh = chat(("07:30", "19:00"), "Asia/Riyadh")  # UTC+3 all year
    assert latest_due(riyadh, utc(2026, 11, 20, 3)) == utc(2026, 11, 19, 16)
    assert next_due_after(riyadh, utc(2026, 11, 20, 3)) == utc(2026, 11, 20, 4, 30)
    assert next_due_after(riyadh, utc(2026, 6, 20, 4, 30)) == utc(2026, 6, 20, 16)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    with Store(tmp_path / "nashra.db") as store:
        store.sync_feeds([FEED], utc(2026, 1, 1))
        yield offline_services(store)


def subscribe(svc: Services, at: datetime, times: tuple[str, ...] = ("08:00", "20:00"),
              timezone: str = "UTC", chat_id: int = CHAT) -> None:
    svc.store.ensure_chat(chat_id, "private", "t", times=times, timezone=timezone,
                          max_items=10, now=at)
    svc.store.set_subscribed(chat_id, True, at)
    found = svc.store.get_chat(chat_id)
    assert found is not None
    reschedule(svc.store, found, at)


def store_article(store: Store, n: int, fetched: datetime) -> None:
    store.insert_articles([Article(
        feed_id=1, key=f"k{n}", url=f"https://feed.example/{n}",
        canonical_url=f"https://feed.example/{n}", published=fetched, fetched=fetched,
        language="ar", title_original="عنوان", text_original="نص",
        title_translated=f"Headline {n}", text_translated="Text.", lead="Lead.", model="m")])


def digests(store: Store, chat_id: int | None = CHAT) -> int:
    return len({m.digest_id for m in store.outbox_messages(chat_id) if m.kind == "digest"})


def test_spring_forward_serves_the_skipped_time_once_after_the_jump(svc: Services) -> None:
    subscribe(svc, utc(2026, 3, 28, 12), ("02:30",), "Europe/Berlin")
    store_article(svc.store, 1, utc(2026, 3, 28, 20))
    assert serve_due(svc, utc(2026, 3, 29, 0, 59, 59)) == 0
    assert serve_due(svc, utc(2026, 3, 29, 1, 0, 20)) == 1
    assert serve_due(svc, utc(2026, 3, 29, 1, 30)) == 0  # what fold=0 would have named
    assert digests(svc.store) == 1
    assert next_due(svc.store, CHAT) == utc(2026, 3, 30, 0, 30)


def test_fall_back_serves_the_repeated_time_once(svc: Services) -> None:
    subscribe(svc, utc(2026, 10, 24, 12), ("02:30",), "Europe/Berlin")
    store_article(svc.store, 1, utc(2026, 10, 24, 20))
    assert serve_due(svc, utc(2026, 10, 25, 0, 30, 10)) == 1
    store_article(svc.store, 2, utc(2026, 10, 25, 1))
    assert serve_due(svc, utc(2026, 10, 25, 1, 30, 10)) == 0  # 02:30 again, in CET
    assert digests(svc.store) == 1
    assert next_due(svc.store, CHAT) == utc(2026, 10, 26, 1, 30)


def test_riyadh_without_dst(svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 20, 3), ("07:30", "19:00"), "Asia/Riyadh")
    store_article(svc.store, 1, utc(2026, 11, 20, 3))
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 4, 30)
    assert serve_due(svc, utc(2026, 11, 20, 4, 30)) == 1
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 16)


def test_a_tick_50_minutes_late_still_serves(svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 19, 12))
    store_article(svc.store, 1, utc(2026, 11, 20, 7))
    assert serve_due(svc, utc(2026, 11, 20, 8, 50)) == 1
    assert digests(svc.store) == 1
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 20)
    chat_now = svc.store.get_chat(CHAT)
    assert chat_now is not None and chat_now.last_due_at == utc(2026, 11, 20, 8)


def test_two_hours_late_skips_to_the_next_time_which_covers_the_gap(svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 19, 12))
    store_article(svc.store, 1, utc(2026, 11, 20, 7))
    assert serve_due(svc, utc(2026, 11, 20, 10)) == 0
    assert digests(svc.store) == 0
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 20)
    store_article(svc.store, 2, utc(2026, 11, 20, 15))
    assert serve_due(svc, utc(2026, 11, 20, 20, 0, 30)) == 1
    [message] = svc.store.outbox_messages(CHAT)
    assert "Headline 1" in message.text and "Headline 2" in message.text


def test_a_restart_or_a_crash_before_the_next_time_is_stored_serves_nothing_twice(
        tmp_path: Path) -> None:
    path, now = tmp_path / "nashra.db", utc(2026, 11, 20, 8, 0, 40)
    with Store(path) as store:
        store.sync_feeds([FEED], utc(2026, 1, 1))
        svc = offline_services(store)
        subscribe(svc, utc(2026, 11, 19, 12))
        store_article(store, 1, utc(2026, 11, 20, 7))
        assert serve_due(svc, now) == 1
    with Store(path) as store:  # restarted
        svc = offline_services(store)
        assert serve_due(svc, now) == 0
        # Killed after the digest was written, before its next time was: still due.
        store.set_next_due(CHAT, utc(2026, 11, 20, 8))
        store_article(store, 2, utc(2026, 11, 20, 8))
        assert serve_due(svc, now + timedelta(seconds=30)) == 0
        assert digests(store) == 1
        assert next_due(store, CHAT) == utc(2026, 11, 20, 20)


def test_a_settings_change_keeps_a_time_that_is_due_but_not_served(svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 20, 7))
    store_article(svc.store, 1, utc(2026, 11, 20, 7))
    changed = svc.store.update_chat_settings(CHAT, max_items=5)
    reschedule(svc.store, changed, utc(2026, 11, 20, 8, 0, 10))  # the tick comes at 08:00:20
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 8)
    assert serve_due(svc, utc(2026, 11, 20, 8, 0, 20)) == 1


def test_no_digest_for_a_time_before_the_subscription_nor_when_unsubscribed(
        svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 20, 8, 10))
    store_article(svc.store, 1, utc(2026, 11, 20, 7))
    assert next_due(svc.store, CHAT) == utc(2026, 11, 20, 20)
    assert serve_due(svc, utc(2026, 11, 20, 8, 30)) == 0
    svc.store.set_subscribed(CHAT, False, utc(2026, 11, 20, 9))
    assert next_due(svc.store, CHAT) is None
    assert serve_due(svc, utc(2026, 11, 20, 20, 0, 10)) == 0
    assert digests(svc.store) == 0


def add_default_chats(store: Store, ids: range, due: datetime) -> None:
    """Chats as /subscribe leaves them with the default times, written in one go."""
    rows = [{"id": n, "at": "2026-11-19 12:00:00", "due": f"{due:%Y-%m-%d %H:%M:%S}"}
            for n in ids]
    with store._transaction() as db:
        db.executemany(
            "INSERT INTO chats (id, type, title, times, timezone, max_items, created, "
            "subscribed, subscribed_at, next_due_at) VALUES (:id, 'private', 't', "
            "'08:00,20:00', 'UTC', 10, :at, 1, :at, :due)", rows)


def test_two_thousand_chats_due_in_one_tick_are_each_served_once(svc: Services) -> None:
    subscribe(svc, utc(2026, 11, 19, 12), chat_id=9_999)
    assert next_due(svc.store, 9_999) == utc(2026, 11, 19, 20)
    add_default_chats(svc.store, range(10_000, 11_999), utc(2026, 11, 20, 8))
    store_article(svc.store, 1, utc(2026, 11, 20, 7))
    now = utc(2026, 11, 20, 8, 0, 25)
    assert serve_due(svc, now) == 2000
    assert digests(svc.store, None) == 2000
    assert {m.chat_id for m in svc.store.outbox_messages()} == {9_999, *range(10_000, 11_999)}
    assert serve_due(svc, now) == 0
    assert serve_due(svc, now + timedelta(seconds=30)) == 0
    assert digests(svc.store, None) == 2000
    assert svc.store.due_chats(utc(2026, 11, 20, 19, 59), limit=10) == []
    assert len(svc.store.due_chats(utc(2026, 11, 20, 20), limit=10_000)) == 2000


def test_schema_6_makes_subscribed_chats_due_and_the_first_tick_catches_up(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    now = datetime.now(UTC).replace(microsecond=0)
    db = database_at_schema(path, 5)
    day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    for chat_id, late, subscribed in ((1, 10, 1), (2, 120, 1), (3, 10, 0)):
        db.execute("INSERT INTO chats (id, type, times, timezone, max_items, created, "
                   "subscribed, subscribed_at) VALUES (?, 'private', ?, 'UTC', 10, ?, ?, ?)",
                   (chat_id, f"{now - timedelta(minutes=late):%H:%M:%S}", day_ago, subscribed,
                    day_ago if subscribed else None))
    db.close()
    with Store(path) as store:
        assert [next_due(store, c) is not None for c in (1, 2, 3)] == [True, True, False]
        store.sync_feeds([FEED], now)
        store_article(store, 1, now - timedelta(hours=1))
        svc = offline_services(store)
        tick = datetime.now(UTC) + timedelta(seconds=1)
        assert serve_due(svc, tick) == 1  # 10 minutes late: served; 2 hours late: skipped
        assert [digests(store, c) for c in (1, 2, 3)] == [1, 0, 0]
        assert next_due(store, 1) == now - timedelta(minutes=10) + timedelta(days=1)
        assert next_due(store, 2) == now - timedelta(minutes=120) + timedelta(days=1)
        assert serve_due(svc, tick) == 0


def test_a_tick_while_the_previous_one_still_serves_returns_at_once(svc: Services) -> None:
    import asyncio
    from types import SimpleNamespace

    from telegram.ext import ContextTypes

    from bot.telegram.schedule import digest_job
    from bot.telegram.services import SERVICES_KEY

    now = datetime.now(UTC)  # the job reads the real clock
    due = now - timedelta(minutes=2)
    subscribe(svc, now - timedelta(days=2), (due.strftime("%H:%M"),))
    store_article(svc.store, 1, now - timedelta(minutes=5))
    svc.store.set_next_due(CHAT, due)
    context: ContextTypes.DEFAULT_TYPE = SimpleNamespace(  # type: ignore[assignment]
        application=SimpleNamespace(bot_data={SERVICES_KEY: svc}, updater=None))

    async def overlapping() -> int:
        async with svc.tick_lock:  # the previous tick, still serving
            await digest_job(context)
            served_meanwhile = digests(svc.store)
        await digest_job(context)
        return served_meanwhile

    assert asyncio.run(overlapping()) == 0
    assert digests(svc.store) == 1
