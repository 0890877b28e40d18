"""Full-text search in SQLite (FTS5): rank ids first, then read only the page shown.

The index (``search_index``, written by :mod:`bot.store.index`) holds no text: exact forms
and stems of each field (see :mod:`bot.terms` and :mod:`bot.store.fts`). Ranking reads it
and one covering index (``articles_search``: id, publication time, source, story), so
filters by source and date and one result per story cost no article row; only the page's
articles are read.

A query is first matched newest id first (articles are stored as they are fetched), up to
``SEARCH_WINDOW`` matches:

* fewer matches than that: all of them are ranked by bm25 (exact forms over stems, titles
  over leads over texts) times a boost for recent articles;
* more (a common word): bm25 is not affordable, since it counts each phrase's matches over
  the whole index first (milliseconds per common phrase at 100,000 articles, however few
  rows are ranked). The newest ``SEARCH_WINDOW`` matches are ranked by the same recency
  boost, doubled when the titles match, and the pages end there. So are fewer matches of
  common words when filters (source, dates) or exclusions left fewer: ranking depends on
  the words, not on the filters.

Each story (one event across outlets) is one result: its best-ranked matching article.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.query import Query
from bot.store import fts
from bot.store.base import ReadConnection, chunks, placeholders, to_db_time
from bot.store.records import ARTICLE_COLUMNS, StoredArticle, stored_article

# A query with more matches than this is ranked among its newest this many (see above).
SEARCH_WINDOW = 1000
# At most this many entries of the published index are read to bound a date filter's ids.
DATE_SCAN = 5000


@dataclass(frozen=True)
class SearchScope:
    """Where to look: some sources only (None: all), published in ``[since, until)``."""

    feed_ids: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Match:
    """One result: a story's best-ranked matching article and its score (lower is better)."""

    article_id: int
    story_id: int
    score: float


class SearchReader:
    """The search steps on a connection: the store's read-only one (``Store.reader``)."""

    def __init__(self, connection: ReadConnection) -> None:
        self._connection = connection

    def search_sources(self, names: Sequence[str]) -> tuple[int, ...]:
        """Ids of the sources whose name or address contains any of ``names``."""
        with self._connection.use() as db:
            return source_ids(db, names)

    def search_exists(self, query: Query, scope: SearchScope, *, any_term: bool = False) -> bool:
        """Whether anything matches (the index and the covering index alone)."""
        with self._connection.use() as db:
            return _exists(db, fts.match(query, any_term=any_term), scope)

    def search_ranked(self, query: Query, scope: SearchScope, *, limit: int, offset: int = 0,
                      now: datetime, any_term: bool = False) -> list[Match]:
        """One page of stories, best first; no article row is read."""
        with self._connection.use() as db:
            return rank(db, query, scope, limit=limit, offset=offset, now=now,
                        any_term=any_term)

    def search_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        """The articles of a page of results, by id."""
        with self._connection.use() as db:
            return read_articles(db, ids)

    def story_outlets(self, story_ids: Sequence[int]) -> dict[int, int]:
        """How many sources carry each story."""
        with self._connection.use() as db:
            return outlets(db, story_ids)


def source_ids(db: sqlite3.Connection, names: Sequence[str]) -> tuple[int, ...]:
    found: dict[int, None] = {}
    for name in names:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = db.execute("SELECT id FROM feeds WHERE lower(name) LIKE :p ESCAPE '\\' "
                          "OR lower(url) LIKE :p ESCAPE '\\' ORDER BY id", {"p": pattern.lower()})
        found.update(dict.fromkeys(row[0] for row in rows))
    return tuple(found)


def rank(db: sqlite3.Connection, query: Query, scope: SearchScope, *, limit: int, offset: int,
         now: datetime, any_term: bool = False) -> list[Match]:
    """One page of matches, one per story, best first (lower scores). A common word's
    scores are on another scale than bm25's."""
    if offset >= SEARCH_WINDOW or scope.feed_ids == ():
        return []
    where, params = _scope(db, scope)
    params.update({"match": fts.match(query, any_term=any_term), "window": SEARCH_WINDOW,
                   "titles": fts.in_titles(" OR ".join(fts.positives(query))),
                   "limit": limit, "offset": offset, "now": to_db_time(now)})
    rows = _search(db, _RANKED_NEWEST.format(scope=where), params).fetchall()
    if rows and rows[0]["matches"] < SEARCH_WINDOW and not _common(db, query, scope, any_term):
        rows = _search(db, _RANKED_BM25.format(scope=where), params).fetchall()
    return [Match(row["id"], row["story_id"], row["score"]) for row in rows]


def _common(db: sqlite3.Connection, query: Query, scope: SearchScope, any_term: bool) -> bool:
    """Whether the words alone, without filters and exclusions, have SEARCH_WINDOW matches.

    Such words are ranked as a common word is, even when filters or exclusions leave fewer
    matches: bm25 would first read each word's whole list of matches (to weigh it by how
    rare it is), which for common words costs more than the walk itself, and weighs little.
    """
    if scope == SearchScope() and not (query.excluded or query.excluded_exact):
        return False   # the ranking's own count was that of the words alone
    count = _search(db, "SELECT COUNT(*) FROM (SELECT rowid FROM search_index "
                        "WHERE search_index MATCH :wanted LIMIT :window)",
                    {"wanted": fts.wanted(query, any_term=any_term),
                     "window": SEARCH_WINDOW}).fetchone()[0]
    return int(count) >= SEARCH_WINDOW


def read_articles(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, StoredArticle]:
    found: dict[int, StoredArticle] = {}
    for chunk in chunks(list(ids)):
        marks, params = placeholders("r", chunk)
        rows = db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles a "
                          f"JOIN feeds f ON f.id = a.feed_id WHERE a.id IN ({marks})", params)
        found.update((row["id"], stored_article(row)) for row in rows)
    return found


def outlets(db: sqlite3.Connection, story_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in chunks(list(story_ids)):
        marks, params = placeholders("s", chunk)
        rows = db.execute("SELECT story_id, COUNT(DISTINCT feed_id) FROM articles "
                          f"WHERE story_id IN ({marks}) GROUP BY story_id", params)
        counts.update((row[0], row[1]) for row in rows)
    return counts


def _exists(db: sqlite3.Connection, match: str, scope: SearchScope) -> bool:
    if scope.feed_ids == ():
        return False
    where, params = _scope(db, scope)
    params["match"] = match
    return _search(db, _EXISTS.format(scope=where), params).fetchone() is not None


def _scope(db: sqlite3.Connection, scope: SearchScope) -> tuple[str, dict[str, Any]]:
    """SQL conditions on the index (alias ``s``) and the covering index (alias ``a``)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if scope.feed_ids is not None:
        marks, params = placeholders("f", list(scope.feed_ids))
        clauses.append(f"a.feed_id IN ({marks})")
    if scope.since is not None:
        clauses.append("a.published >= :since")
        params["since"] = to_db_time(scope.since)
    if scope.until is not None:
        clauses.append("a.published < :until")
        params["until"] = to_db_time(scope.until)
    if scope.since is not None or scope.until is not None:
        # Bound the index walk by ids, so that it does not read every match outside the
        # dates (see _published_ids).
        clauses.append("s.rowid BETWEEN :first_id AND :last_id")
        params["first_id"], params["last_id"] = _published_ids(db, params)
    return "".join(f" AND {clause}" for clause in clauses), params


def _published_ids(db: sqlite3.Connection, dates: Mapping[str, Any]) -> tuple[int, int]:
    """Bounds of the ids of articles published between ``dates["since"]`` and
    ``dates["until"]`` (either may be absent).

    Exact when at most DATE_SCAN articles were (a short read of the published index).
    Otherwise the upper bound is open, since an article may be fetched, and so numbered, long
    after it was published; but ids grow with fetch time and an article is never published
    after it was fetched (the parse stage caps future dates), so the walk can start at the
    first id fetched since ``since``.
    """
    conditions = [c for c, key in (("published >= :since", "since"),
                                   ("published < :until", "until")) if key in dates]
    row = db.execute(
        "SELECT COUNT(*), MIN(id), MAX(id) FROM (SELECT id FROM articles "
        f"INDEXED BY articles_published WHERE {' AND '.join(conditions)} LIMIT :cap)",
        {**{key: dates[key] for key in ("since", "until") if key in dates},
         "cap": DATE_SCAN + 1}).fetchone()
    if row[0] == 0:
        return 1, 0
    if row[0] <= DATE_SCAN:
        return int(row[1]), int(row[2])
    if "since" not in dates:
        return 1, 2**62
    # MIN(+id): SQLite reads the fetched index's range, not the rowid from the start.
    first = db.execute("SELECT MIN(+id) FROM articles WHERE fetched >= :t",
                       {"t": dates["since"]}).fetchone()[0]
    return (int(first), 2**62) if first is not None else (1, 0)


def _search(db: sqlite3.Connection, sql: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
    try:
        return db.execute(sql, params)
    except sqlite3.OperationalError as exc:
        raise StoreError(f"search failed: {exc}") from exc


_EXISTS = """
SELECT 1 FROM search_index s JOIN articles a INDEXED BY articles_search ON a.id = s.rowid
WHERE search_index MATCH :match{scope} LIMIT 1
"""

# The recency factor runs from 2 (published now) towards 1 (weeks old). Publication times
# come from the covering index, never from the (large) article rows.
_RECENCY = "(1.0 + 1.0 / (1.0 + MAX(julianday(:now) - julianday(m.published), 0) / 3.0))"

# One result per story: its best article, then the page.
_PAGE = """
best AS (
    SELECT id, story_id, score,
           ROW_NUMBER() OVER (PARTITION BY story_id ORDER BY score, id DESC) AS nth
    FROM scored)
SELECT id, story_id, score, (SELECT COUNT(*) FROM m) AS matches
FROM best WHERE nth = 1
ORDER BY score, id DESC
LIMIT :limit OFFSET :offset
"""

# The newest window of matches (the index walked newest id first, stopped after the window),
# those whose titles match too, and how many matched: a full window is a common word.
_RANKED_NEWEST = """
WITH m AS MATERIALIZED (
    SELECT s.rowid AS id, COALESCE(a.story_id, a.id) AS story_id, a.published
    FROM search_index s JOIN articles a INDEXED BY articles_search ON a.id = s.rowid
    WHERE search_index MATCH :match{scope}
    ORDER BY s.rowid DESC LIMIT :window),
titled AS MATERIALIZED (
    SELECT rowid AS id FROM search_index
    WHERE search_index MATCH :titles
      AND rowid BETWEEN (SELECT MIN(id) FROM m) AND (SELECT MAX(id) FROM m)),
scored AS (
    SELECT m.id, m.story_id,
           -(CASE WHEN m.id IN titled THEN 2.0 ELSE 1.0 END) * """ + _RECENCY + """ AS score
    FROM m),""" + _PAGE

# Fewer matches than the window: all of them, by bm25 (negative, lower is better) times the
# recency factor.
_RANKED_BM25 = """
WITH m AS MATERIALIZED (
    SELECT s.rowid AS id, COALESCE(a.story_id, a.id) AS story_id, a.published,
           bm25(search_index, """ + fts.WEIGHTS + """) AS relevance
    FROM search_index s JOIN articles a INDEXED BY articles_search ON a.id = s.rowid
    WHERE search_index MATCH :match{scope}),
scored AS (SELECT m.id, m.story_id, m.relevance * """ + _RECENCY + """ AS score FROM m),
""" + _PAGE
