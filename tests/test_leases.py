"""Feed leases on both engines: due feeds claimed by one worker at a time, taken over when a
lease has passed, given back when done; on PostgreSQL a claim skips a feed another worker is
claiming at that moment instead of waiting for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_store import NOW

from bot.config import FeedConfig
from bot.store import Store

LEASE = timedelta(minutes=5)


@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    with Store(store_location) as opened:
        yield opened


@pytest.fixture
def feeds(store: Store) -> list[int]:
    configured = [FeedConfig(f"https://news{n}.example/rss", f"Outlet {n}") for n in range(6)]
    return [feed.id for feed in store.sync_feeds(configured, NOW)]


def test_workers_share_the_due_feeds_without_overlap(store: Store, feeds: list[int]) -> None:
    store.record_fetch_failure(feeds[5], NOW, "timeout",
                               next_check=NOW + timedelta(hours=1))   # backing off: not due
    first = store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=3)
    second = store.claim_feeds(feeds, "worker-b", NOW, LEASE, limit=10)
    assert len(first) == 3 and set(first).isdisjoint(second)
    assert set(first) | set(second) == set(feeds[:5])
    assert store.claim_feeds(feeds, "worker-c", NOW, LEASE, limit=10) == []
    # A worker asking again keeps what it holds.
    assert store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=3) == first


def test_a_dead_workers_feeds_are_taken_over_when_its_lease_passes(
        store: Store, feeds: list[int]) -> None:
    held = store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=2)
    later = NOW + LEASE - timedelta(seconds=1)
    assert not set(held) & set(store.claim_feeds(feeds, "worker-b", later, LEASE, limit=10))
    # worker-a renews while it works; then stops answering.
    assert store.renew_leases("worker-a", NOW + 2 * LEASE) == 2
    assert not set(held) & set(
        store.claim_feeds(feeds, "worker-c", NOW + LEASE + timedelta(seconds=1), LEASE, 10))
    after = NOW + 2 * LEASE
    assert set(held) <= set(store.claim_feeds(feeds, "worker-d", after, LEASE, limit=10))
    # The dead worker's late release gives back nothing it no longer holds.
    assert store.release_feeds("worker-a", held) == 0
    assert store.release_feeds("worker-d", held) == 2
    assert store.claim_feeds(feeds, "worker-e", after, LEASE, limit=10) == held


def test_a_claim_skips_a_feed_being_claimed_by_another_worker(
        store: Store, feeds: list[int]) -> None:
    """Another worker's claim holds a row lock (its transaction still open): this claim
    takes the other feeds at once instead of waiting for it."""
    if not store.postgres:
        pytest.skip("PostgreSQL row locks; SQLite serialises writers with its one write lock")
    import psycopg

    url = store._url
    with psycopg.connect(url) as other:   # a transaction is opened by the first statement
        other.execute("SELECT id FROM feeds WHERE id = %s FOR UPDATE", (feeds[0],))
        claimed = store.claim_feeds(feeds, "worker-b", NOW, LEASE, limit=10)
        assert claimed == feeds[1:]
        other.rollback()
    assert store.claim_feeds(feeds, "worker-c", NOW, LEASE, limit=10) == [feeds[0]]
