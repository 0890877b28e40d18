"""Copy an SQLite database into an empty PostgreSQL one (``nashra copy --to URL``).

Every table the two schemas share, in an order that satisfies the foreign keys, in batches
by rowid; articles get their search columns from the same analysis the store writes
(:func:`bot.store.index.index_row`). Ids are kept (digests, sent stories and remove buttons
refer to them) and PostgreSQL's id sequences are moved past them. The copy is verified by
counting every table on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.errors import StoreError
from bot.store.base import Database
from bot.store.connection import Connection
from bot.store.index import add_to_index, index_row

# Parents before children (foreign keys).
TABLES = ("feeds", "articles", "translation_cache", "chats", "chat_excluded_feeds",
          "chat_stories", "chat_words", "outbox", "story_terms")
# Tables whose ids PostgreSQL generates (identity columns) once the copy is done.
IDENTITY_TABLES = ("feeds", "articles", "chat_words", "outbox")
BATCH = 500

Progress = Callable[[str, int], None]


def copy_database(source: Database, target: Database,
                  progress: Progress | None = None) -> dict[str, int]:
    """Copy ``source`` (SQLite) into ``target`` (PostgreSQL, empty); returns the rows per
    table, checked equal on both sides."""
    if source.postgres or not target.postgres:
        raise StoreError("copy goes from an SQLite database to a PostgreSQL one")
    _require_empty(target._db)
    copied = {table: _copy_table(source._db, target, table, progress) for table in TABLES}
    with target._transaction() as db:
        for table in IDENTITY_TABLES:
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
    for table, count in copied.items():
        found = int(target._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        if found != count:
            raise StoreError(f"copy: {table} has {found} rows in the target, {count} in the "
                             "source")
    return copied


def _require_empty(db: Connection) -> None:
    for table in TABLES:
        if db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
            raise StoreError(f"copy: the target database is not empty ({table} has rows); "
                             "copy into a new database")


def _columns(db: Connection, table: str, postgres: bool) -> list[str]:
    if postgres:
        rows = db.execute("SELECT column_name FROM information_schema.columns "
                          "WHERE table_name = :t ORDER BY ordinal_position", {"t": table})
        return [row[0] for row in rows]
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _copy_table(source: Connection, target: Database, table: str,
                progress: Progress | None) -> int:
    wanted = set(_columns(target._db, table, postgres=True))
    columns = [c for c in _columns(source, table, postgres=False) if c in wanted]
    insert = (f"INSERT INTO {table} ({', '.join(columns)}) "
              f"VALUES ({', '.join(':' + c for c in columns)})")
    copied, after = 0, None
    while True:
        rows = _batch(source, table, columns, after)
        if not rows:
            return copied
        with target._transaction() as db:
            db.executemany(insert, rows)
            if table == "articles":
                add_to_index(db, [index_row(row) for row in rows], postgres=True)
        copied += len(rows)
        after = rows[-1]["_rowid"]
        if progress is not None:
            progress(table, copied)


def _batch(source: Connection, table: str, columns: list[str],
           after: int | None) -> list[dict[str, Any]]:
    """The next rows by SQLite rowid (every table has one; a chat's is its Telegram id,
    negative for groups), as dicts with ``_rowid``."""
    rows = source.execute(
        f"SELECT rowid AS _rowid, {', '.join(columns)} FROM {table} "
        "WHERE :first OR rowid > :after ORDER BY rowid LIMIT :n",
        {"first": after is None, "after": after or 0, "n": BATCH})
    return [{"_rowid": row[0], **{c: row[i + 1] for i, c in enumerate(columns)}}
            for row in rows]
