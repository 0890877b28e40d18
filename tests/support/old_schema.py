"""Databases as an older release left them, for migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store.base import _statements
from bot.store.migrations import MIGRATIONS
from bot.textnorm import normalize_arabic


def database_at_schema(path: Path, version: int) -> sqlite3.Connection:
    """A new database with migrations 1..``version`` applied, open in autocommit mode.

    Schemas before 5 had triggers calling ``nashra_fold``, so the function is registered."""
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("nashra_fold", 1, normalize_arabic, deterministic=True)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        for statement in _statements(script):
            db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
    return db
