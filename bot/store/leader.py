"""The leader lock: which of several bot processes on one PostgreSQL database schedules.

Scheduling (serving due digests, queueing alerts) must run in one process only, or a chat
would get its digest twice. The leader holds a session-level advisory lock
(``pg_try_advisory_lock``) on a connection of its own; the others ask for it again from time
to time. PostgreSQL lets go of the lock when the leader's session ends (the process died,
or its connection broke), so a stand-by takes over at its next try. On SQLite there is one
process per file, which leads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.dburl import is_postgres
from bot.store.connection import PostgresConnection, database_errors

log = logging.getLogger(__name__)
LEADER_LOCK = 0x6E617369   # "nasi": beside the migration lock's "nash"


class LeaderLock:
    """Ask with :meth:`held`: True while this process leads."""

    def __init__(self, location: Path | str) -> None:
        self._url = str(location) if is_postgres(str(location)) else None
        self._db: PostgresConnection | None = None

    def held(self) -> bool:
        """Whether this process leads now: the lock is taken if free, and a lock held is
        checked to be still held (its connection alive)."""
        if self._url is None:
            return True
        try:
            if self._db is not None:
                self._db.execute("SELECT 1").fetchone()
                return True
            self._db = PostgresConnection(self._url)
            row = self._db.execute("SELECT pg_try_advisory_lock(:key)",
                                   {"key": LEADER_LOCK}).fetchone()
        except database_errors() as exc:
            self._lost(f"{type(exc).__name__}: {exc}")
            return False
        if row[0]:
            log.info("this process now leads: it schedules digests and alerts")
            return True
        self.close()
        return False

    def _lost(self, reason: str) -> None:
        if self._db is not None:
            log.warning("leader lock lost (%s); another process may lead now", reason)
        self.close()

    def close(self) -> None:
        """Let go of the lock (a clean stop: a stand-by leads at its next try)."""
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.close()
            except database_errors():
                pass
