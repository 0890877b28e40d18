"""Digest times: the latest due time in a chat's zone (across DST), and the start-up catch-up
with an injected clock — a recent missed digest is sent once, a long outage is left to the
next digest, which covers the gap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.offline_services import offline_services

from bot.config import FeedConfig
from bot.models import Article, Chat
from bot.store import Store
from bot.telegram.schedule import catch_up, latest_due
from bot.telegram.services import Services

CHAT = 5151


def chat(times: tuple[str, ...], timezone: str, **changes: object) -> Chat:
    values: dict[str, object] = dict(id=CHAT, type="private", title="t", subscribed=True,
                                     times=times, timezone=timezone, max_items=10)
    values.update(changes)
    return Chat(**values)  # type: ignore[arg-type]


def test_latest_due_is_in_the_chats_zone_across_a_dst_change() -> None:
    berlin = chat(("08:00",), "Europe/Berlin")
    # Summer time ended on 25 October 2026: 08:00 Berlin is 06:00 UTC before, 07:00 after.
    assert latest_due(berlin, datetime(2026, 10, 24, 9, 0, tzinfo=UTC)) == \
        datetime(2026, 10, 24, 6, 0, tzinfo=UTC)
    assert latest_due(berlin, datetime(2026, 10, 26, 9, 0, tzinfo=UTC)) == \
        datetime(2026, 10, 26, 7, 0, tzinfo=UTC)
    riyadh = chat(("07:30", "19:00"), "Asia/Riyadh")
    assert latest_due(riyadh, datetime(2026, 11, 20, 3, 0, tzinfo=UTC)) == \
        datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert latest_due(riyadh, datetime(2026, 11, 20, 4, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 20, 4, 30, tzinfo=UTC)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    with Store(tmp_path / "nashra.db") as store:
        store.sync_feeds([FeedConfig("https://feed.example/rss", "Outlet")],
                         datetime(2026, 11, 19, tzinfo=UTC))
        yield offline_services(store)


def subscribe(svc: Services, subscribed_at: datetime) -> None:
    svc.store.ensure_chat(CHAT, "private", "t", times=("08:00", "20:00"), timezone="UTC",
                          max_items=10, now=subscribed_at)
    svc.store.set_subscribed(CHAT, True, subscribed_at)


def store_article(svc: Services, n: int, fetched: datetime) -> None:
    svc.store.insert_articles([Article(
        feed_id=1, key=f"k{n}", url=f"https://feed.example/{n}",
        canonical_url=f"https://feed.example/{n}", published=fetched, fetched=fetched,
        language="ar", title_original="عنوان", text_original="نص",
        title_translated=f"Headline {n}", text_translated="Text.", lead="Lead.", model="m")])


def pending(svc: Services) -> int:
    return len([m for m in svc.store.outbox_messages(CHAT) if m.status == "pending"])


def test_a_recently_missed_digest_is_sent_once(svc: Services) -> None:
    subscribe(svc, datetime(2026, 11, 19, 12, 0, tzinfo=UTC))
    store_article(svc, 1, datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    back = datetime(2026, 11, 20, 8, 40, tzinfo=UTC)  # down from 07:50 to 08:40
    assert catch_up(svc, back) == 1
    assert pending(svc) == 1
    assert catch_up(svc, back + timedelta(minutes=5)) == 0  # a second restart: not again
    found = svc.store.get_chat(CHAT)
    assert found is not None and found.last_due_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_after_a_long_outage_the_next_digest_covers_the_gap(svc: Services) -> None:
    subscribe(svc, datetime(2026, 11, 19, 12, 0, tzinfo=UTC))
    store_article(svc, 1, datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    assert catch_up(svc, datetime(2026, 11, 20, 10, 0, tzinfo=UTC)) == 0  # 2 h late: no
    store_article(svc, 2, datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    assert catch_up(svc, datetime(2026, 11, 20, 20, 30, tzinfo=UTC)) == 1
    [message] = svc.store.outbox_messages(CHAT)
    assert "Headline 1" in message.text and "Headline 2" in message.text


def test_no_catch_up_for_a_time_before_the_subscription(svc: Services) -> None:
    subscribe(svc, datetime(2026, 11, 20, 8, 10, tzinfo=UTC))
    store_article(svc, 1, datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    assert catch_up(svc, datetime(2026, 11, 20, 8, 30, tzinfo=UTC)) == 0
