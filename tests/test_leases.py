"""Feed leases on both engines: due feeds claimed by one worker at a time, taken over when a
lease has passed, given back when done; on PostgreSQL a claim skips a feed another worker is
claiming at that moment instead of waiting for it. Also delivery claims (one process sends a
chat's messages at a time), the alert queue, and how a process tells that the owner of a
lease on this machine is dead."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_store import NOW, make_article

from bot.config import FeedConfig
from bot.feed_leases import dead_here
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


# -- due feeds: recently fetched, backing off ---------------------------------------------------

def test_a_feed_fetched_since_fetched_before_is_not_due(store: Store, feeds: list[int]) -> None:
    store.record_fetch_success(feeds[0], NOW - timedelta(minutes=10), etag=None,
                               last_modified=None)
    store.record_fetch_success(feeds[1], NOW - timedelta(hours=2), etag=None,
                               last_modified=None)
    hour_ago = NOW - timedelta(hours=1)
    taken = store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=10, fetched_before=hour_ago)
    assert taken == feeds[1:]   # fetched two hours ago: due; ten minutes ago: not yet
    store.release_feeds("worker-a", taken)
    # Without fetched_before a fetch any time up to now counts as due.
    assert store.claim_feeds(feeds, "worker-b", NOW, LEASE, limit=10) == feeds


def test_force_takes_a_backing_off_feed_but_not_another_workers(
        store: Store, feeds: list[int]) -> None:
    store.record_fetch_failure(feeds[0], NOW, "timeout", next_check=NOW + timedelta(hours=1))
    store.record_fetch_success(feeds[1], NOW - timedelta(minutes=1), etag=None,
                               last_modified=None)
    held = store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=1,
                             fetched_before=NOW - timedelta(hours=1))
    assert held == [feeds[2]]   # backing off and fetched recently: not due
    forced = store.claim_feeds(feeds, "worker-b", NOW, LEASE, limit=10,
                               fetched_before=NOW - timedelta(hours=1), force=True)
    assert forced == [f for f in feeds if f != feeds[2]]   # held by worker-a: left alone
    assert store.claim_feeds(feeds, "worker-c", NOW, LEASE, limit=10, force=True) == []


def test_lease_owners_and_release_owner(store: Store, feeds: list[int]) -> None:
    assert store.lease_owners() == []
    a = store.claim_feeds(feeds, "worker-a", NOW, LEASE, limit=2)
    b = store.claim_feeds(feeds, "worker-b", NOW, LEASE, limit=3)
    assert sorted(store.lease_owners()) == ["worker-a", "worker-b"]
    # A passed lease still names its owner (a dead worker's leases are found that way).
    assert store.claim_feeds(feeds, "worker-c", NOW, LEASE, limit=10) == [feeds[5]]
    assert store.release_owner("worker-a") == 2
    assert store.release_owner("worker-a") == 0
    assert sorted(store.lease_owners()) == ["worker-b", "worker-c"]
    # Freed at once, long before the lease passes; worker-b's stay.
    assert store.claim_feeds(feeds, "worker-d", NOW, LEASE, limit=10) == a
    assert not set(b) & set(store.claim_feeds(feeds, "worker-e", NOW, LEASE, limit=10))


# -- delivery claims ----------------------------------------------------------------------------

def queue_messages(store: Store, chat_id: int, count: int = 3) -> None:
    """A chat with ``count`` pending messages."""
    store.ensure_chat(chat_id, "private", f"chat {chat_id}", times=("07:00",),
                      timezone="UTC", max_items=5, now=NOW)
    store.queue_digest(chat_id, [], [f"message {n} to {chat_id}" for n in range(count)], NOW)


def start_sending(store: Store, chat_id: int, count: int = 1) -> None:
    """The chat's first ``count`` messages handed to Telegram (what the claim's holder does)."""
    for message in store.outbox_messages(chat_id)[:count]:
        assert store.mark_sending(message.id)


def statuses(store: Store, chat_id: int) -> list[str]:
    return [message.status for message in store.outbox_messages(chat_id)]


def test_a_held_chat_is_taken_over_only_when_its_claim_passes(store: Store) -> None:
    for chat in (11, 12):
        queue_messages(store, chat)
        assert store.claim_chat(chat, "bot-a", NOW, LEASE)
        start_sending(store, chat)
    assert not store.claim_chat(11, "bot-b", NOW + LEASE - timedelta(seconds=1), LEASE)
    assert statuses(store, 11) == ["sending", "pending", "pending"]
    # The holder renews (its own sends stay as they are)...
    renewed_at = NOW + LEASE / 2
    assert store.claim_chat(11, "bot-a", renewed_at, LEASE)
    assert statuses(store, 11) == ["sending", "pending", "pending"]
    assert not store.claim_chat(11, "bot-b", NOW + LEASE + timedelta(seconds=1), LEASE)
    # ...then stops answering: once the renewed claim has passed bot-b takes the chat, and
    # bot-a's send cut off in the middle goes back to the queue. Chat 12 is not touched.
    assert store.claim_chat(11, "bot-b", renewed_at + LEASE, LEASE)
    assert statuses(store, 11) == ["pending", "pending", "pending"]
    assert statuses(store, 12) == ["sending", "pending", "pending"]
    assert not store.claim_chat(11, "bot-a", renewed_at + LEASE, LEASE)
    assert sorted(store.claim_owners()) == ["bot-a", "bot-b"]


def test_only_the_holder_releases_a_chat(store: Store) -> None:
    for chat in (21, 22):
        queue_messages(store, chat)
        assert store.claim_chat(chat, "bot-a", NOW, LEASE)
    start_sending(store, 21)
    store.release_chat(21, "bot-b")
    assert store.claim_owners() == ["bot-a"]
    assert not store.claim_chat(21, "bot-b", NOW, LEASE)
    assert statuses(store, 21) == ["sending", "pending", "pending"]
    store.release_chat(21, "bot-a")
    assert store.claim_chat(21, "bot-b", NOW, LEASE)   # at once
    # Only a holder sends: with nobody holding the chat, nobody was sending that message.
    assert statuses(store, 21) == ["pending", "pending", "pending"]
    assert store.release_chats("bot-a") == 1
    assert store.release_chats("bot-a") == 0
    assert store.claim_owners() == ["bot-b"]


def test_resume_dead_owner_requeues_its_sends_and_drops_its_claims(store: Store) -> None:
    for chat, owner, sending in ((31, "bot-a", 2), (32, "bot-a", 1), (33, "bot-b", 1)):
        queue_messages(store, chat)
        assert store.claim_chat(chat, owner, NOW, LEASE)
        start_sending(store, chat, sending)
    queue_messages(store, 34)
    start_sending(store, 34)   # nobody's claim (left by some crash)
    assert store.resume_dead_owner("bot-a") == 3
    assert statuses(store, 31) == statuses(store, 32) == ["pending"] * 3
    assert statuses(store, 33)[0] == statuses(store, 34)[0] == "sending"
    assert store.claim_owners() == ["bot-b"]
    assert store.claim_chat(31, "bot-c", NOW, LEASE)   # long before bot-a's claim passed
    assert store.resume_dead_owner("bot-a") == 0


def test_resume_unclaimed_sending_leaves_chats_with_a_live_claim_alone(store: Store) -> None:
    for chat in (41, 42, 43, 44):
        queue_messages(store, chat)
    later = NOW + LEASE / 2
    assert store.claim_chat(41, "bot-other", later, LEASE)   # live at NOW + LEASE
    assert store.claim_chat(42, "bot-other", NOW, LEASE)     # passed at NOW + LEASE
    assert store.claim_chat(44, "bot-me", later, LEASE)      # live, the caller's own
    for chat in (41, 42, 43, 44):
        start_sending(store, chat)
    assert store.resume_unclaimed_sending(NOW + LEASE) == 2
    for chat in (41, 44):
        assert statuses(store, chat) == ["sending", "pending", "pending"]
    for chat in (42, 43):
        assert statuses(store, chat) == ["pending"] * 3
    assert sorted(store.claim_owners()) == ["bot-me", "bot-other"]   # claims untouched


# -- the alert queue ----------------------------------------------------------------------------

def test_stored_articles_wait_in_the_alert_queue_until_dequeued(
        store: Store, feeds: list[int]) -> None:
    first = store.insert_articles([make_article(feeds[0], n) for n in (1, 2, 3)])
    second = store.insert_articles([make_article(feeds[1], n) for n in (4, 5)])
    assert len(first) == 3 and len(second) == 2
    assert store.queued_alert_articles(100) == sorted(first + second)
    assert store.queued_alert_articles(2) == sorted(first + second)[:2]   # oldest first
    store.dequeue_alert_articles(first[:2])
    assert store.queued_alert_articles(100) == sorted(first[2:] + second)
    # Stored already (same entry, or same canonical URL via another feed): not queued again,
    # whether still queued or already looked at.
    again = [make_article(feeds[0], 1), make_article(feeds[0], 3),
             make_article(feeds[2], 9, canonical_url="http://127.0.0.1/news/4")]
    assert store.insert_articles(again) == []
    assert store.queued_alert_articles(100) == sorted(first[2:] + second)
    fresh = store.insert_articles([make_article(feeds[0], 1), make_article(feeds[0], 6)])
    assert len(fresh) == 1
    assert store.queued_alert_articles(100) == sorted([*first[2:], *second, *fresh])
    store.dequeue_alert_articles([])
    store.dequeue_alert_articles([*first, *second, *fresh, 999_999])
    assert store.queued_alert_articles(100) == []


# -- dead processes of this machine -------------------------------------------------------------

def test_dead_here_recognises_dead_processes_of_this_machine_only() -> None:
    host, me_pid = socket.gethostname(), os.getpid()
    me = f"{host}:{me_pid}:aaaaaa"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()   # reaped: its pid is free (and, this soon, not reused)
    assert dead_here(me, me) is False
    assert dead_here(f"{host}:{child.pid}:bbbbbb", me) is True
    assert dead_here(f"elsewhere-{host}:{child.pid}:bbbbbb", me) is False
    assert dead_here(f"{host}:{os.getppid()}:cccccc", me) is False   # alive
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert dead_here(f"{host}:{live.pid}:dddddd", me) is False
    finally:
        live.kill()
        live.wait()
    # This process's pid under another name: an earlier life of a restarted container.
    assert dead_here(f"{host}:{me_pid}:eeeeee", me) is True
    # Names that are not host:pid:random (`nashra worker --name`) are never judged dead here.
    assert dead_here("w1", me) is False
    assert dead_here(f"{host}:w1", me) is False
    assert dead_here(f"{host}:{child.pid}", me) is True
