"""The search index's rows: what :mod:`bot.terms` makes of an article, written by the store.

In PostgreSQL the same values fill two ``tsvector`` columns of the article row (exact forms,
stems), weighted by field; an update simply replaces them. The rest of this note is SQLite's.

``search_index`` is a contentless FTS5 table (schema 10): it keeps the tokens and no copy of
any text, and the article rows keep no copy of the analysis either. To remove a row, FTS5
must be handed the very values the row was indexed with; the store computes them again from
the article's stored text, which the analysis (:func:`bot.textnorm.normalize_arabic`,
:func:`bot.terms.field_stems`) turns into the same values as long as it does not change.
A change to the analysis therefore comes with a migration that rebuilds the index (SQL
``nashra_fold``/``nashra_stems``, see schema 10); ``tests/test_terms.py`` pins its output.

Only Nashra writes articles: a row inserted by another SQLite client is not searchable, and
one updated by another client makes the index's removal of it fail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.analysis import words
from bot.errors import StoreError
from bot.store.base import WAL_SIZE_LIMIT
from bot.store.connection import Connection
from bot.terms import field_stems
from bot.textnorm import normalize_arabic

_EXACT_FIELDS = ("title_en", "lead_en", "text_en", "title_ar", "text_ar")
_COLUMNS = "title_en, lead_en, text_en, title_ar, text_ar, title_stems, text_stems"
_VALUES = ":title_en, :lead_en, :text_en, :title_ar, :text_ar, :title_stems, :text_stems"
_INSERT = f"INSERT INTO search_index (rowid, {_COLUMNS}) VALUES (:id, {_VALUES})"
_DELETE = (f"INSERT INTO search_index (search_index, rowid, {_COLUMNS}) "
           f"VALUES ('delete', :id, {_VALUES})")
# PostgreSQL: fields weighted A (titles), B (lead), C (texts), the 'simple' configuration
# (lower case, no stemming of its own: the analysis is done already).
_POSTGRES_SET = """
UPDATE articles SET
    search_exact = setweight(to_tsvector('simple', :title_en), 'A')
        || setweight(to_tsvector('simple', :lead_en), 'B')
        || setweight(to_tsvector('simple', :text_en), 'C')
        || setweight(to_tsvector('simple', :title_ar), 'A')
        || setweight(to_tsvector('simple', :text_ar), 'C'),
    search_stems = setweight(to_tsvector('simple', :title_stems), 'A')
        || setweight(to_tsvector('simple', :text_stems), 'C')
WHERE id = :id
"""
# Pages merged in one transaction by tidy_index: about 4 MB, some 0.15 s on the build
# machine, the longest the bot's own writes wait for the lock meanwhile.
TIDY_PAGES = 1000
# The article columns an index row is made of (see index_row).
SOURCE_COLUMNS = ("id, title_translated, lead, text_translated, title_original, "
                  "text_original")


def index_row(article: Mapping[str, Any]) -> dict[str, Any]:
    """The index row of an article given as :data:`SOURCE_COLUMNS` (a row or a dict)."""
    return {
        "id": article["id"],
        "title_en": article["title_translated"],
        "lead_en": article["lead"],
        "text_en": article["text_translated"],
        "title_ar": normalize_arabic(article["title_original"]),
        "text_ar": normalize_arabic(article["text_original"]),
        "title_stems": field_stems(article["title_translated"], article["title_original"]),
        "text_stems": field_stems(article["text_translated"], article["text_original"]),
    }


def add_to_index(db: Connection, rows: Iterable[Mapping[str, Any]], *,
                 postgres: bool = False) -> None:
    """Index rows made by :func:`index_row`, inside the caller's transaction."""
    if postgres:
        db.executemany(_POSTGRES_SET, map(_split_exact, rows))
    else:
        db.executemany(_INSERT, rows)


def _split_exact(row: Mapping[str, Any]) -> dict[str, Any]:
    """The exact fields as the query side splits words (bot.analysis.words): PostgreSQL's
    parser, in a C-locale cluster, takes Arabic and typographic punctuation for letters
    (``الحكومة،``, ``“Talks,”``)."""
    return {**row, **{field: " ".join(words(row[field])) for field in _EXACT_FIELDS}}


def remove_from_index(db: Connection, rows: Iterable[Mapping[str, Any]], *,
                      postgres: bool = False) -> None:
    """Remove rows made by :func:`index_row` from what the articles held when indexed
    (in PostgreSQL the next :func:`add_to_index` replaces them)."""
    if not postgres:
        db.executemany(_DELETE, rows)


def tidy_index(path: Path, *, pages: int = TIDY_PAGES, busy_timeout_ms: int = 5000) -> int:
    """Merge the index's pieces into one, a few megabytes a transaction; returns how many
    transactions did work (0: it was one piece already).

    FTS5 adds a piece (b-tree) per write and merges four of a size into a bigger one, so a
    growing archive has a dozen pieces, and a query looks each of its words up in every one
    (a quarter slower at 100,000 articles, see bench/search.py). Merging rewrites the whole
    index; the bot does it once a day, on its own connection in a worker thread, and other
    writers get the lock between transactions.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    except sqlite3.Error as exc:
        raise StoreError(f"tidying the search index failed: {exc}") from exc
    try:
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        return _merge(db, pages)
    except sqlite3.Error as exc:
        raise StoreError(f"tidying the search index failed: {exc}") from exc
    finally:
        db.close()


def _merge(db: sqlite3.Connection, pages: int) -> int:
    steps = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        before = db.total_changes
        db.execute("INSERT INTO search_index (search_index, rank) VALUES ('merge', :n)",
                   {"n": -pages})
        db.execute("COMMIT")
        # FTS5 counts two changes or more when a merge did some work.
        if db.total_changes - before < 2:
            return steps
        steps += 1
