"""Databases as an older release left them, for migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store.base import _statements
from bot.store.migrations import MIGRATIONS
from bot.terms import field_stems
from bot.textnorm import normalize_arabic


def database_at_schema(path: Path, version: int) -> sqlite3.Connection:
    """A new database with migrations 1..``version`` applied, open in autocommit mode."""
    db = _connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    _apply(db, 0, version)
    return db


def upgrade_to_schema(path: Path, version: int) -> sqlite3.Connection:
    """An existing database brought up to ``version`` (not further), open in autocommit."""
    db = _connect(path)
    current = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    _apply(db, current, version)
    return db


def _connect(path: Path) -> sqlite3.Connection:
    """Schemas before 5 had triggers calling ``nashra_fold``, and the backfills of 5, 9 and
    10 call it or ``nashra_stems``: both registered as the store does."""
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("nashra_fold", 1, normalize_arabic, deterministic=True)
    db.create_function("nashra_stems", 2, lambda t, o: field_stems(t or "", o or ""),
                       deterministic=True)
    return db


def _apply(db: sqlite3.Connection, current: int, version: int) -> None:
    for number in range(current + 1, version + 1):
        for statement in _statements(MIGRATIONS[number - 1]):
            db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
