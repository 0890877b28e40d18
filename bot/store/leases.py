"""What several processes on one database share: feed leases, delivery claims, the alert
queue.

Feed leases: how several workers share the feeds without fetching one twice.

A worker claims due feeds for a while (``lease_until``) and releases them when done. Another
worker skips leased feeds until the lease has passed, so the feeds of a worker killed in the
middle are taken over then. On PostgreSQL the claim skips rows another worker is claiming at
that moment (``FOR UPDATE SKIP LOCKED``) instead of waiting for it; SQLite has one writer at
a time, which serialises claims by itself.

Delivery claims do for chats what leases do for feeds: the bot process sending a chat's
messages holds the chat's claim, so two processes never send to one chat at once (which
would break the order of a digest's messages); a dead process's claims pass like leases.
The alert queue holds the ids of stored articles until the scheduling process has looked
at them for alert words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.store.base import Database, chunks, placeholders, to_db_time
from bot.store.chats import PENDING, SENDING
from bot.store.feedhealth import PROBE_EVERY

_CLAIM = """
UPDATE feeds SET lease_owner = :owner, lease_until = :until
WHERE id IN (
    SELECT id FROM feeds
    WHERE id IN ({eligible}) AND active = 1
      AND ({due})
      AND (lease_until IS NULL OR lease_until <= :now OR lease_owner = :owner)
    ORDER BY next_check NULLS FIRST, id
    LIMIT :limit{skip_locked})
RETURNING id
"""

_DUE = ("(next_check IS NULL OR next_check <= :now) "
        "AND (last_fetched IS NULL OR last_fetched <= :fetched_before) "
        # a paused feed is probed once a day (bot.feed_health)
        "AND (paused_at IS NULL OR last_fetched IS NULL OR last_fetched <= :probe_before)")
_FORCED = "1 = 1"
_CLAIM_CHAT = """
INSERT INTO delivery_claims (chat_id, owner, until) VALUES (:chat, :owner, :until)
ON CONFLICT (chat_id) DO UPDATE SET owner = excluded.owner, until = excluded.until
WHERE delivery_claims.owner = excluded.owner OR delivery_claims.until <= :now
RETURNING chat_id
"""


class LeaseQueries(Database):
    """Claims and releases of feeds by workers (``owner``: a worker's unique name)."""

    def claim_feeds(self, feed_ids: Sequence[int], owner: str, now: datetime,
                    lease: timedelta, limit: int, *, fetched_before: datetime | None = None,
                    force: bool = False) -> list[int]:
        """Lease up to ``limit`` of ``feed_ids`` that are due and not leased by another
        worker (or whose lease has passed) until ``now + lease``; returns their ids, the
        longest-waiting first. Due: not backing off past ``now`` and, with
        ``fetched_before``, not fetched since then; ``force`` takes backing-off feeds too."""
        claimed: list[int] = []
        for chunk in chunks(list(feed_ids)):
            if len(claimed) >= limit:
                break
            marks, params = placeholders("f", chunk)
            params.update({"owner": owner, "now": to_db_time(now),
                           "until": to_db_time(now + lease), "limit": limit - len(claimed),
                           "fetched_before": to_db_time(fetched_before or now),
                           "probe_before": to_db_time(now - PROBE_EVERY)})
            sql = _CLAIM.format(eligible=marks, due=_FORCED if force else _DUE,
                                skip_locked=" FOR UPDATE SKIP LOCKED" if self.postgres else "")
            with self._transaction() as db:
                claimed += [int(row[0]) for row in db.execute(sql, params).fetchall()]
        return sorted(claimed)

    def renew_leases(self, owner: str, until: datetime) -> int:
        """Extend every lease ``owner`` holds (a long refresh); returns how many."""
        return self._execute_write(
            "UPDATE feeds SET lease_until = :until WHERE lease_owner = :owner",
            {"until": to_db_time(until), "owner": owner})

    def release_feeds(self, owner: str, feed_ids: Sequence[int]) -> int:
        """Give back leases ``owner`` holds on ``feed_ids`` (a lease another worker took
        over meanwhile is left alone); returns how many."""
        released = 0
        for chunk in chunks(list(feed_ids)):
            marks, params = placeholders("f", chunk)
            params["owner"] = owner
            released += self._execute_write(
                "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
                f"WHERE lease_owner = :owner AND id IN ({marks})", params)
        return released

    def lease_owners(self) -> list[str]:
        """The workers holding feed leases now (any lease, passed or not)."""
        rows = self._db.execute("SELECT DISTINCT lease_owner FROM feeds "
                                "WHERE lease_owner IS NOT NULL").fetchall()
        return [str(row[0]) for row in rows]

    def release_owner(self, owner: str) -> int:
        """Give back every lease of ``owner`` (a worker known to be dead); returns how many."""
        return self._execute_write("UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
                                   "WHERE lease_owner = :owner", {"owner": owner})

    # delivery claims ------------------------------------------------------------------------

    def claim_chat(self, chat_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
        """Hold the right to send ``chat_id``'s messages until ``now + lease`` (taken over
        from a claim that has passed; renewed when ``owner`` already holds it). A claim
        not renewed but taken puts unfinished sends of the chat back in the queue: only a
        process holding the claim sends, so nobody is sending them (Telegram may or may not
        have them: the one duplicate a crash can cause)."""
        params = {"chat": chat_id, "owner": owner, "now": to_db_time(now),
                  "until": to_db_time(now + lease), "p": PENDING, "s": SENDING}
        with self._transaction() as db:
            previous = db.execute("SELECT owner FROM delivery_claims WHERE chat_id = :chat",
                                  params).fetchone()
            if db.execute(_CLAIM_CHAT, params).fetchone() is None:
                return False
            if previous is None or previous[0] != owner:
                db.execute("UPDATE outbox SET status = :p WHERE chat_id = :chat AND status = :s",
                           params)
        return True

    def release_chat(self, chat_id: int, owner: str) -> None:
        """Give up the claim on ``chat_id`` if ``owner`` still holds it."""
        self._execute_write("DELETE FROM delivery_claims WHERE chat_id = :chat AND owner = :owner",
                            {"chat": chat_id, "owner": owner})

    def claim_owners(self) -> list[str]:
        """The processes holding delivery claims now (passed or not)."""
        rows = self._db.execute("SELECT DISTINCT owner FROM delivery_claims").fetchall()
        return [str(row[0]) for row in rows]

    def release_chats(self, owner: str) -> int:
        """Give up every claim ``owner`` holds (a clean stop)."""
        return self._execute_write("DELETE FROM delivery_claims WHERE owner = :owner",
                                   {"owner": owner})

    def resume_dead_owner(self, owner: str) -> int:
        """A process known to be dead: its unfinished sends go back to the queue and its
        claims are dropped. Returns how many messages."""
        params = {"owner": owner, "p": PENDING, "s": SENDING}
        with self._transaction() as db:
            resumed = db.execute(
                "UPDATE outbox SET status = :p WHERE status = :s AND chat_id IN "
                "(SELECT chat_id FROM delivery_claims WHERE owner = :owner)", params).rowcount
            db.execute("DELETE FROM delivery_claims WHERE owner = :owner", params)
        return int(resumed)

    def resume_unclaimed_sending(self, now: datetime) -> int:
        """Sends cut off by a crash or a stop: "sending" messages of chats nobody holds a
        live claim on go back to the queue. Returns how many."""
        return self._execute_write(
            "UPDATE outbox SET status = :p WHERE status = :s AND chat_id NOT IN "
            "(SELECT chat_id FROM delivery_claims WHERE until > :now)",
            {"now": to_db_time(now), "p": PENDING, "s": SENDING})

    # alert queue ----------------------------------------------------------------------------

    def queued_alert_articles(self, limit: int) -> list[int]:
        """Ids of stored articles not yet looked at for alert words, oldest first."""
        rows = self._db.execute(
            "SELECT article_id FROM alert_queue ORDER BY article_id LIMIT :limit",
            {"limit": limit}).fetchall()
        return [int(row[0]) for row in rows]

    def dequeue_alert_articles(self, article_ids: Sequence[int]) -> None:
        """These articles have been looked at for alerts."""
        for chunk in chunks(list(article_ids)):
            marks, params = placeholders("a", chunk)
            self._execute_write(f"DELETE FROM alert_queue WHERE article_id IN ({marks})", params)
