"""What the store's queries need from a database connection, in SQLite and PostgreSQL.

The queries are written once, in SQL both engines read, with named parameters (``:name``),
as :mod:`sqlite3` takes them. SQLite runs them on its own connection; PostgreSQL through
:class:`PostgresConnection`, which rewrites the parameters for psycopg (``%(name)s``) and
returns rows that, like :class:`sqlite3.Row`, answer both ``row[0]`` and ``row["name"]``.
psycopg is imported only when a PostgreSQL URL is used (the ``postgres`` extra).
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from bot.dburl import is_postgres, redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["is_postgres", "redact_url"]



class Row(Protocol):
    """A result row: by position or by column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Connection(Protocol):
    """The part of :class:`sqlite3.Connection` the store uses."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...

    def close(self) -> None: ...


def database_errors() -> tuple[type[Exception], ...]:
    """The exception classes of the engines in use: SQLite's, and psycopg's once imported
    (a psycopg error cannot happen before; importing it here would cost an SQLite-only
    process half a second on its first database error)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


class PostgresRow(tuple[Any, ...]):
    """A row of values that also answers by column name, like :class:`sqlite3.Row`."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> PostgresRow:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PostgresRow(values, names)


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=1024)
def postgres_sql(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``; a literal ``%`` doubled. (The store's
    SQL has no ``:`` inside string literals, and ``::`` casts are left alone.)"""
    return _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgresConnection:
    """A psycopg connection in autocommit mode that takes the store's SQL: transactions are
    explicit ``BEGIN``/``COMMIT`` statements, as with SQLite."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        import psycopg

        self._db = psycopg.connect(url, autocommit=True, row_factory=_row_factory)
        if read_only:
            self._db.execute("SET default_transaction_read_only = on")

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._db.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Mapping[str, Any] | None = None, /) -> Any:
        if sql.strip().upper().startswith("BEGIN"):
            sql = "BEGIN"   # SQLite's BEGIN IMMEDIATE: row locks do that job here
        if parameters is None:
            return self._db.execute(sql)
        return self._db.execute(postgres_sql(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Mapping[str, Any]], /) -> Any:
        with self._db.cursor() as cursor:
            cursor.executemany(postgres_sql(sql), parameters)
            return cursor

    def close(self) -> None:
        self._db.close()
