"""The SQLite connection every store query class shares: pragmas, transactions, migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from bot.errors import StoreError
from bot.store import migrations_pg
from bot.store.connection import (
    Connection,
    PostgresConnection,
    database_errors,
    is_postgres,
    redact_url,
)
from bot.store.migrations import MIGRATIONS
from bot.terms import field_stems
from bot.textnorm import normalize_arabic

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# SQLite caps host parameters per statement; chunk IN (...) lists well below it.
CHUNK = 500
# When another process holds the write lock past busy_timeout: wait and retry, then give up.
LOCK_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
WAL_SIZE_LIMIT = 64 * 1024 * 1024
# pg_advisory_xact_lock key held while a PostgreSQL schema is created or upgraded.
MIGRATION_LOCK = 0x6E617368   # "nash"
SQLITE_ONLY = "this needs an SQLite database; PostgreSQL has its own tools (pg_dump, VACUUM)"
log = logging.getLogger(__name__)
# Set by fail_fast_on_lock(): writes raise StoreBusy at once instead of waiting for the lock.
_FAIL_FAST: ContextVar[bool] = ContextVar("nashra_store_fail_fast", default=False)


class StoreBusy(StoreError):
    """Another connection holds the write lock (raised at once under fail_fast_on_lock)."""


@contextmanager
def fail_fast_on_lock() -> Iterator[None]:
    """In this context (this thread or asyncio task, and the tasks it starts), a write that
    finds the database locked raises :class:`StoreBusy` at once: neither busy_timeout nor
    the retry delays are slept. For code on an event loop, which waits with
    ``asyncio.sleep`` and tries again instead (see :func:`bot.refresh_windows.patiently`)."""
    token = _FAIL_FAST.set(True)
    try:
        yield
    finally:
        _FAIL_FAST.reset(token)


def to_db_time(moment: datetime) -> str:
    """UTC text that sorts and compares correctly and that julianday() understands."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def from_db_time(text: str) -> datetime:
    # fromisoformat reads _TIME_FORMAT ~20x faster than strptime (digests parse many dates)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def optional_time(text: str | None) -> datetime | None:
    return from_db_time(text) if text else None


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def placeholders(prefix: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    """Named placeholders for an IN (...) list, and their parameters."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    return ", ".join(f":{n}" for n in names) or "NULL", dict(zip(names, values, strict=True))


class Database:
    """One connection, used from one thread; writes go through transactions.

    ``location`` is an SQLite file (WAL mode) or a ``postgresql://`` URL (see
    :mod:`bot.store.connection`); the queries are the same.
    """

    def __init__(self, location: Path | str, *, busy_timeout_ms: int = 5000) -> None:
        self.postgres = is_postgres(location)
        self.location = redact_url(str(location)) if self.postgres else str(location)
        self._url = str(location) if self.postgres else ""
        self._path = Path() if self.postgres else Path(location)
        self._reader: ReadConnection | None = None
        self._db: Connection
        try:
            if self.postgres:
                self._db = PostgresConnection(self._url)
                self._migrate_postgres()
            else:
                self._db = self._open_sqlite(busy_timeout_ms)
                self._migrate()
        except _open_errors() as exc:
            raise StoreError(f"cannot open database {self.location}: "
                             f"{redact_url(str(exc))}") from None

    def _open_sqlite(self, busy_timeout_ms: int) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, isolation_level=None)
        db.row_factory = sqlite3.Row
        # Only migrations call these (schema 1-4 triggers called nashra_fold too): the
        # backfills of 5 and 9 and the re-indexing of 10. The store computes the same
        # analysis in Python when it writes the search index (bot/store/index.py).
        db.create_function("nashra_fold", 1, _fold, deterministic=True)
        db.create_function("nashra_stems", 2, _stems, deterministic=True)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # A big transaction (a migration, a first refresh) grows the WAL file; without a
        # limit it keeps that size on disk for good.
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @property
    def path(self) -> Path:
        """The SQLite file (what backup, tidy and vacuum work on)."""
        if self.postgres:
            raise StoreError(SQLITE_ONLY)
        return self._path

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._db.close()

    def read_connection(self) -> ReadConnection:
        """This database's read-only connection, opened on first use and closed with it.

        Call this from the thread that owns the store; use the result from any thread.
        """
        if self._reader is None:
            self._reader = ReadConnection(self._url if self.postgres else self._path)
        return self._reader

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction; SQLite errors (locked, disk full...) become StoreError."""
        self._begin()
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, database_errors()):
                raise StoreError(_describe(exc)) from exc
            raise

    def _begin(self) -> None:
        if self.postgres:   # row locks, not a database lock: nothing to wait for here
            self._db.execute("BEGIN")
            return
        if _FAIL_FAST.get():
            self._begin_or_raise()
            return
        for delay in (*LOCK_RETRY_DELAYS, None):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if delay is None or not _is_lock_error(exc):
                    raise StoreError(_describe(exc)) from exc
                log.warning("database busy; retrying in %.2fs", delay)
                time.sleep(delay)

    def _begin_or_raise(self) -> None:
        """BEGIN IMMEDIATE without waiting: busy_timeout is 0 for this one statement."""
        timeout = int(self._db.execute("PRAGMA busy_timeout").fetchone()[0])
        self._db.execute("PRAGMA busy_timeout = 0")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_lock_error(exc):
                raise StoreBusy("database is locked") from exc
            raise StoreError(_describe(exc)) from exc
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {timeout}")

    def backup(self, destination: Path) -> str:
        """A consistent single-file copy of the live database (SQLite's online backup API).

        Written beside the destination and renamed into place; returns the copy's
        ``PRAGMA integrity_check`` result.
        """
        source = self._sqlite()
        partial = destination.with_name(destination.name + ".partial")
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target, pages=1024)
                target.execute("PRAGMA journal_mode = DELETE")  # no -wal file to carry along
                check = str(target.execute("PRAGMA integrity_check").fetchone()[0])
            finally:
                target.close()
            partial.replace(destination)
        except (OSError, sqlite3.Error) as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(f"backup to {destination} failed: {exc}") from exc
        return check

    def vacuum(self) -> tuple[int, int]:
        """Rewrite the database file without its free pages (VACUUM: takes the write lock
        throughout and as much free disk as the database). Returns its size before and
        after, in bytes."""
        before = self.path.stat().st_size
        try:
            self._sqlite().execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"vacuum failed: {_describe(exc)}") from exc
        return before, self.path.stat().st_size

    def integrity_check(self) -> str:
        return str(self._sqlite().execute("PRAGMA integrity_check").fetchone()[0])

    def _sqlite(self) -> sqlite3.Connection:
        """The SQLite connection, for what only SQLite has (see :attr:`path`)."""
        if not isinstance(self._db, sqlite3.Connection):
            raise StoreError(SQLITE_ONLY)
        return self._db

    def _execute_write(self, sql: str, params: Mapping[str, Any]) -> int:
        with self._transaction() as db:
            return int(db.execute(sql, params).rowcount)

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            if not current:
                # A new database gets the whole schema in one transaction: a crash during
                # the first start leaves all of it or none, and two processes starting
                # together create it once (the second waits for the write lock).
                for version, script in enumerate(MIGRATIONS, start=1):
                    _apply(db, version, script)
                return
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            # An existing database: some steps rewrite every article.
            log.info("upgrading the database to schema %d (large archives take minutes)",
                     version)
            with self._transaction() as db:
                done = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
                if done < version:   # another process may have upgraded meanwhile
                    _apply(db, version, script)
        if current < len(MIGRATIONS):
            # An upgrade may rewrite the whole database into the WAL: copy it back now and
            # empty the WAL, or every read pays for looking pages up in a huge WAL index
            # until the next write resets it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _migrate_postgres(self) -> None:
        """The baseline (schema 10) on a new database, then the later migrations: in one
        transaction (PostgreSQL's DDL is transactional) under an advisory lock, so that
        processes starting together on a new database create the schema once."""
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(:key)", {"key": MIGRATION_LOCK})
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            steps = [(migrations_pg.BASELINE_VERSION, migrations_pg.BASELINE)]
            steps += [(migrations_pg.BASELINE_VERSION + n, script)
                      for n, script in enumerate(migrations_pg.MIGRATIONS, start=1)]
            for version, script in steps:
                if version <= current:
                    continue
                if current:
                    log.info("upgrading the database to schema %d", version)
                for statement in migrations_pg.statements(script):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (:v)", {"v": version})

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])


class ReadConnection:
    """A read-only connection (SQLite ``mode=ro``; a read-only PostgreSQL session) for
    queries that run off the owning thread.

    Any thread may use it, one at a time: :meth:`use` holds a lock while a caller has it.
    WAL lets it read while the store's own connection writes.
    """

    def __init__(self, location: Path | str, *, busy_timeout_ms: int = 5000) -> None:
        self.postgres = is_postgres(location)
        self._db: Any
        try:
            if self.postgres:
                self._db = PostgresConnection(str(location), read_only=True)
            else:
                self._db = _read_only_sqlite(Path(location), busy_timeout_ms)
        except database_errors() as exc:
            where = redact_url(str(location))
            raise StoreError(f"cannot open database {where} for reading: "
                             f"{redact_url(str(exc))}") from None
        self._lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[Any]:
        """The connection: :class:`sqlite3.Connection` or :class:`PostgresConnection`."""
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _read_only_sqlite(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                         isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db.execute("PRAGMA query_only = ON")
    return db


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _apply(db: Connection, version: int, script: str) -> None:
    for statement in _statements(script):
        db.execute(statement)
    db.execute("INSERT INTO schema_version (version) VALUES (:v)", {"v": version})


def _open_errors() -> tuple[type[BaseException], ...]:
    return (OSError, *database_errors())


def _describe(exc: Exception) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return "database or disk is full"
    return text


def _fold(text: str | None) -> str | None:
    """SQL ``nashra_fold``: the folded Arabic of migrations 5 and 10."""
    return normalize_arabic(text) if text is not None else None


def _stems(translated: str | None, original: str | None) -> str:
    """SQL ``nashra_stems``: the stems column of migrations 9 and 10."""
    return field_stems(translated or "", original or "")


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
