"""Feed health in the store: pausing, probing and resuming feeds, with their notices.

Each transition is one conditional UPDATE whose row count says whether this call made it,
in the transaction that queues its notices in the outbox: whichever process pauses or
resumes a feed first tells the admins, and nobody tells them twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import DigestSettings
from bot.store.base import Database, to_db_time
from bot.store.connection import Connection

PROBE_EVERY = timedelta(days=1)   # how often a paused feed is tried again
_PAUSE_FAILING = """
UPDATE feeds SET paused_at = :now, next_check = :probe
WHERE id = :id AND active = 1 AND paused_at IS NULL
  AND failing_since IS NOT NULL AND failing_since <= :before
"""
# A probe that answered: record_fetch_success already cleared the error streak.
_RESUME_PROBED = "UPDATE feeds SET paused_at = NULL WHERE id = :id AND paused_at IS NOT NULL"
# An admin's /resumefeed: a fresh start, fetched at the next refresh.
_RESUME_NOW = """
UPDATE feeds SET paused_at = NULL, failing_since = NULL, error_count = 0, next_check = NULL
WHERE id = :id AND paused_at IS NOT NULL
"""


@dataclass(frozen=True)
class Notice:
    """An operational message for one chat (HTML)."""

    chat_id: int
    text: str


class FeedHealthQueries(Database):
    """Pause, probe and resume feeds; notices go to the outbox with the transition."""

    def pause_failing_feed(self, feed_id: int, now: datetime, notices: Sequence[Notice], *,
                           failing_before: datetime, probe_at: datetime,
                           defaults: DigestSettings) -> bool:
        """Pause a feed failing since ``failing_before`` or earlier, next tried at
        ``probe_at``, and queue ``notices``; False (nothing queued) when it is not failing
        that long or is paused already (by another process, say)."""
        with self._transaction() as db:
            paused = db.execute(_PAUSE_FAILING, {
                "now": to_db_time(now), "probe": to_db_time(probe_at), "id": feed_id,
                "before": to_db_time(failing_before)}).rowcount
            if paused:
                _queue(db, notices, now, defaults)
        return bool(paused)

    def resume_feed(self, feed_id: int, now: datetime, notices: Sequence[Notice], *,
                    defaults: DigestSettings) -> bool:
        """A paused feed answered its probe: fetched as usual again; ``notices`` queued.
        False when it was not paused (resumed already)."""
        with self._transaction() as db:
            resumed = db.execute(_RESUME_PROBED, {"id": feed_id}).rowcount
            if resumed:
                _queue(db, notices, now, defaults)
        return bool(resumed)

    def resume_feed_now(self, feed_id: int) -> bool:
        """An admin resumed a paused feed: its error streak is forgotten and it is fetched
        at the next refresh. False when it was not paused."""
        return self._execute_write(_RESUME_NOW, {"id": feed_id}) > 0

    def postpone_probe(self, feed_id: int, probe_at: datetime) -> int:
        """A paused feed failed its probe: the next one no earlier than ``probe_at`` (the
        error back-off may already put it later, e.g. a long Retry-After)."""
        return self._execute_write(
            "UPDATE feeds SET next_check = :probe WHERE id = :id AND paused_at IS NOT NULL "
            "AND (next_check IS NULL OR next_check < :probe)",
            {"probe": to_db_time(probe_at), "id": feed_id})


def _queue(db: Connection, notices: Sequence[Notice], now: datetime,
           defaults: DigestSettings) -> None:
    """Queue ``notices`` (kind ``notice``); a chat the bot has not seen yet gets its row
    (unsubscribed, default settings) since outbox messages belong to a chat."""
    stamp = to_db_time(now)
    for notice in notices:
        db.execute(
            "INSERT INTO chats (id, type, title, times, timezone, max_items, created) "
            "VALUES (:id, :type, '', :times, :tz, :items, :now) ON CONFLICT (id) DO NOTHING",
            {"id": notice.chat_id, "type": "private" if notice.chat_id > 0 else "supergroup",
             "times": ",".join(defaults.times), "tz": defaults.timezone,
             "items": defaults.max_items, "now": stamp})
        db.execute(
            "INSERT INTO outbox (chat_id, digest_id, seq, text, created, kind) "
            "VALUES (:chat, :digest, 0, :text, :now, 'notice')",
            {"chat": notice.chat_id, "digest": uuid.uuid4().hex, "text": notice.text,
             "now": stamp})
