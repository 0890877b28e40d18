"""Feed leases: how several workers share the feeds without fetching one twice.

A worker claims due feeds for a while (``lease_until``) and releases them when done. Another
worker skips leased feeds until the lease has passed, so the feeds of a worker killed in the
middle are taken over then. On PostgreSQL the claim skips rows another worker is claiming at
that moment (``FOR UPDATE SKIP LOCKED``) instead of waiting for it; SQLite has one writer at
a time, which serialises claims by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.store.base import Database, chunks, placeholders, to_db_time

_CLAIM = """
UPDATE feeds SET lease_owner = :owner, lease_until = :until
WHERE id IN (
    SELECT id FROM feeds
    WHERE id IN ({eligible}) AND active = 1
      AND (next_check IS NULL OR next_check <= :now)
      AND (lease_until IS NULL OR lease_until <= :now OR lease_owner = :owner)
    ORDER BY next_check NULLS FIRST, id
    LIMIT :limit{skip_locked})
RETURNING id
"""


class LeaseQueries(Database):
    """Claims and releases of feeds by workers (``owner``: a worker's unique name)."""

    def claim_feeds(self, feed_ids: Sequence[int], owner: str, now: datetime,
                    lease: timedelta, limit: int) -> list[int]:
        """Lease up to ``limit`` of ``feed_ids`` that are due and not leased by another
        worker (or whose lease has passed) until ``now + lease``; returns their ids, the
        longest-waiting first."""
        claimed: list[int] = []
        for chunk in chunks(list(feed_ids)):
            if len(claimed) >= limit:
                break
            marks, params = placeholders("f", chunk)
            params.update({"owner": owner, "now": to_db_time(now),
                           "until": to_db_time(now + lease), "limit": limit - len(claimed)})
            sql = _CLAIM.format(eligible=marks,
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
