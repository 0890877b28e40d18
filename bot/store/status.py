"""The queries a metrics scrape and a health check run, on a read-only connection.

They run in the metrics server's threads, never on the event loop: each is one index lookup
or one short range of an index (``outbox_status``, ``chats_next_due``), whatever the size of
the archive. Delivered messages are not counted here: their number only grows (the
``nashra_messages_sent_total`` counter says how many), and counting them would read the
whole index at every scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import StoreError
from bot.store.base import ReadConnection, from_db_time
from bot.store.chats import FAILED, PENDING, SENDING
from bot.store.connection import database_errors, redact_url

WAITING = (PENDING, SENDING, FAILED)
T = TypeVar("T")


class StatusReader:
    """Opens its own read-only connection on first use (from any thread, one at a time)
    and opens it again after a failure, so a database that comes back is seen again."""

    def __init__(self, location: Path | str) -> None:
        self._location = location
        self._connection: ReadConnection | None = None
        self._lock = threading.Lock()

    def ping(self) -> None:
        """Raise StoreError unless the database answers a query."""
        self._query(lambda db: db.execute("SELECT MAX(version) FROM schema_version")
                    .fetchone())

    def outbox_depth(self) -> dict[str, int]:
        """Messages per outbox status, for the statuses a message waits in or ends in
        without being delivered."""
        def count(db: Any) -> dict[str, int]:
            return {status: int(db.execute("SELECT COUNT(*) FROM outbox WHERE status = :s",
                                           {"s": status}).fetchone()[0])
                    for status in WAITING}
        return self._query(count)

    def oldest_due(self) -> datetime | None:
        """The earliest next digest time of a subscribed chat (None: no chat is due)."""
        row = self._query(lambda db: db.execute(
            "SELECT MIN(next_due_at) FROM chats WHERE subscribed = 1 "
            "AND next_due_at IS NOT NULL").fetchone())
        return from_db_time(str(row[0])) if row and row[0] else None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _query(self, run: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = ReadConnection(self._location)
                with self._connection.use() as db:
                    return run(db)
            except database_errors() as exc:
                self._drop()
                raise StoreError(redact_url(str(exc)).strip() or type(exc).__name__) from None
            except StoreError:
                self._drop()
                raise

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except database_errors():
                pass
            self._connection = None
