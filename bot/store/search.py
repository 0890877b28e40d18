"""Full-text search in SQLite (FTS5): rank ids first, then read only the page shown.

Ranking reads the full-text index and a covering index of publication times
(``articles_recency``, schema 7); no article row is read until the page's few articles and
snippets are. A query is first matched newest id first (articles are stored as they are
fetched), up to ``SEARCH_WINDOW`` matches:

* fewer matches than that: all of them are ranked by bm25 (titles weigh more) times a
  boost for recent articles, as before the window existed;
* more (a common word): bm25 is not affordable, since it counts each phrase's matches over
  the whole index first (milliseconds per common phrase at 100,000 articles, however few
  rows are ranked). The newest ``SEARCH_WINDOW`` matches are ranked by the same recency
  boost, doubled when the titles match, and the pages end there.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.store.base import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Ranked,
    ReadConnection,
    chunks,
    placeholders,
    to_db_time,
)
from bot.store.records import ARTICLE_COLUMNS, SearchRow, stored_article

# A query with more matches than this is ranked among its newest this many (see above).
SEARCH_WINDOW = 1000
# The columns whose match doubles a common word's score (bm25 weighs them 8 and 6 to 1).
_TITLES = "{title_translated title_original}"


class SearchReader:
    """The search steps on the store's read-only connection (see ``Store.reader``)."""

    def __init__(self, connection: ReadConnection) -> None:
        self._connection = connection

    def search_exists(self, match: str) -> bool:
        with self._connection.use() as db:
            return match_exists(db, match)

    def search_ranked(self, match: str, *, limit: int, offset: int = 0,
                      now: datetime) -> list[Ranked]:
        with self._connection.use() as db:
            return rank(db, match, limit=limit, offset=offset, now=now)

    def search_hits(self, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]:
        with self._connection.use() as db:
            return read_hits(db, match, ranked)


def match_exists(db: sqlite3.Connection, match: str) -> bool:
    """Whether an already escaped FTS5 expression matches any article (the index alone)."""
    return _search(db, _SEARCH_EXISTS, {"match": match}).fetchone() is not None


def rank(db: sqlite3.Connection, match: str, *, limit: int, offset: int,
         now: datetime) -> list[Ranked]:
    """(article id, score) of one page of matches, best first (lower scores); no article
    row is read. A common word's scores are on another scale than bm25's."""
    if offset >= SEARCH_WINDOW:
        return []
    params = {"match": match, "titles": f"{_TITLES} : ({match})", "window": SEARCH_WINDOW,
              "limit": limit, "offset": offset, "now": to_db_time(now)}
    rows = _search(db, _RANKED_NEWEST, params).fetchall()
    if rows and rows[0]["matches"] < SEARCH_WINDOW:
        rows = _search(db, _RANKED_BM25, params).fetchall()
    return [(row["id"], row["score"]) for row in rows]


def read_hits(db: sqlite3.Connection, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]:
    """Read the ranked articles with snippets (snippet() needs the MATCH in its query).

    The snippet markers are random for each call, so text in an article cannot forge
    them; the constant markers are stripped from the text before they replace them.
    """
    start, end = _snippet_markers()
    found: dict[int, SearchRow] = {}
    for chunk in chunks(list(dict(ranked).items())):
        ids = [article_id for article_id, _score in chunk]
        marks, params = placeholders("r", ids)
        params.update({"match": match, "hs": start, "he": end, "lo": min(ids), "hi": max(ids)})
        scores = dict(chunk)
        for row in _search(db, _SEARCH_HITS.format(ids=marks), params):
            snippet = _highlighted(row["snippet"], start, end)
            found[row["id"]] = SearchRow(stored_article(row), snippet, scores[row["id"]])
    return [found[article_id] for article_id, _score in ranked if article_id in found]


def _search(db: sqlite3.Connection, sql: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
    try:
        return db.execute(sql, params)
    except sqlite3.OperationalError as exc:
        raise StoreError(f"search failed: {exc}") from exc


def _snippet_markers() -> tuple[str, str]:
    nonce = secrets.token_hex(8)
    return f"\x1e{nonce}[", f"]{nonce}\x1e"


def _highlighted(snippet: str, start: str, end: str) -> str:
    plain = snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    return plain.replace(start, HIGHLIGHT_START).replace(end, HIGHLIGHT_END)


_SEARCH_EXISTS = """
SELECT 1 FROM articles_fts WHERE articles_fts MATCH :match LIMIT 1
"""

# The recency factor runs from 2 (published now) towards 1 (weeks old). Publication times
# come from the covering index, never from the (large) article rows.
_RECENCY = "(1.0 + 1.0 / (1.0 + MAX(julianday(:now) - julianday(a.published), 0) / 3.0))"

# The newest window of matches (the index walked newest id first, stopped after the window),
# those whose titles match too, and how many matched: a full window is a common word.
_RANKED_NEWEST = f"""
WITH newest AS MATERIALIZED (
    SELECT rowid AS id FROM articles_fts WHERE articles_fts MATCH :match
    ORDER BY rowid DESC LIMIT :window),
titled AS MATERIALIZED (
    SELECT rowid AS id FROM articles_fts
    WHERE articles_fts MATCH :titles AND rowid >= (SELECT MIN(id) FROM newest))
SELECT n.id, -(CASE WHEN n.id IN titled THEN 2.0 ELSE 1.0 END) * {_RECENCY} AS score,
       COUNT(*) OVER () AS matches
FROM newest n
JOIN articles a INDEXED BY articles_recency ON a.id = n.id
ORDER BY score, n.id DESC
LIMIT :limit OFFSET :offset
"""

# Fewer matches than the window: all of them, by bm25 (weights: translated title, translated
# text, Arabic title, Arabic text; negative, lower is better) times the recency factor.
_RANKED_BM25 = f"""
SELECT m.id, m.relevance * {_RECENCY} AS score
FROM (SELECT rowid AS id, bm25(articles_fts, 8.0, 1.0, 6.0, 1.0) AS relevance
      FROM articles_fts WHERE articles_fts MATCH :match) AS m
JOIN articles a INDEXED BY articles_recency ON a.id = m.id
ORDER BY score, m.id DESC
LIMIT :limit OFFSET :offset
"""

# One pass of the match over the page's id range (which holds fewer matches than the
# window), not one per id: each new MATCH cursor reads the start of every term's doclists
# again. The unary + keeps the IN list a filter, so SQLite hands FTS5 the range.
_SEARCH_HITS = f"""
SELECT {ARTICLE_COLUMNS},
       snippet(articles_fts, -1, :hs, :he, '…', 16) AS snippet
FROM articles_fts
JOIN articles a ON a.id = articles_fts.rowid
JOIN feeds f ON f.id = a.feed_id
WHERE articles_fts MATCH :match
  AND articles_fts.rowid BETWEEN :lo AND :hi AND +articles_fts.rowid IN ({{ids}})
"""
