"""SQLite implementation of the store: WAL, one writer, named parameters, FTS5."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.config import FeedConfig
from bot.errors import StoreError
from bot.models import Article, FeedState
from bot.store.base import ReadConnection, chunks, optional_time, placeholders, to_db_time
from bot.store.chats import ChatQueries
from bot.store.records import ARTICLE_COLUMNS, SearchRow, StoredArticle, stored_article
from bot.store.stories import StoryQueries
from bot.textnorm import normalize_arabic

# Matches in a search snippet are wrapped in these (feed text holding them is stripped).
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
# A ranked search match: (article id, score).
Ranked = tuple[int, float]


class Store(ChatQueries, StoryQueries):
    """Nashra's database. Not thread-safe: use it from one thread (the event loop's)."""

    # feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, configured: Sequence[FeedConfig], now: datetime) -> list[FeedState]:
        """Upsert the configured feeds (names follow the config) and return the feeds to
        refresh: configured ones plus those admins added from the chat, unless removed."""
        with self._transaction() as db:
            for feed in configured:
                db.execute(
                    "INSERT INTO feeds (url, name, created) VALUES (:url, :name, :now) "
                    "ON CONFLICT (url) DO UPDATE SET name = excluded.name",
                    {"url": feed.url, "name": feed.name, "now": to_db_time(now)},
                )
        urls = {feed.url for feed in configured}
        return [feed for feed in self.feeds(active_only=True)
                if feed.url in urls or feed.origin == "user"]

    def feeds(self, *, active_only: bool = False) -> list[FeedState]:
        where = "WHERE f.active = 1" if active_only else ""
        rows = self._db.execute(
            "SELECT f.*, (SELECT COUNT(*) FROM articles a WHERE a.feed_id = f.id) AS n "
            f"FROM feeds f {where} ORDER BY f.id"
        ).fetchall()
        return [_feed_state(row) for row in rows]

    def add_user_feed(self, url: str, name: str, now: datetime) -> FeedState:
        """A feed an admin added from the chat; re-adding a removed feed revives it."""
        self._execute_write(
            "INSERT INTO feeds (url, name, origin, created) VALUES (:url, :name, 'user', :now) "
            "ON CONFLICT (url) DO UPDATE SET active = 1, name = excluded.name",
            {"url": url, "name": name, "now": to_db_time(now)})
        return next(feed for feed in self.feeds() if feed.url == url)

    def set_feed_active(self, feed_id: int, active: bool) -> bool:
        """Switch a feed on or off for everyone; False if there is no such feed."""
        return self._execute_write("UPDATE feeds SET active = :on WHERE id = :id",
                                   {"on": int(active), "id": feed_id}) > 0

    def record_fetch_success(self, feed_id: int, fetched: datetime, *, etag: str | None,
                             last_modified: str | None) -> None:
        """A 200 or 304: store validators, clear the error streak."""
        self._execute_write(
            "UPDATE feeds SET etag = :etag, last_modified = :lm, last_fetched = :at, "
            "next_check = NULL, error_count = 0, last_error = NULL WHERE id = :id",
            {"etag": etag, "lm": last_modified, "at": to_db_time(fetched), "id": feed_id},
        )

    def record_feed_moved(self, feed_id: int, fetch_url: str | None) -> None:
        """Fetch this feed from ``fetch_url`` from now on (None: from its own URL again)."""
        self._execute_write("UPDATE feeds SET fetch_url = :to WHERE id = :id",
                            {"to": fetch_url, "id": feed_id})

    def record_fetch_failure(self, feed_id: int, fetched: datetime, reason: str,
                             next_check: datetime) -> None:
        """Count one more consecutive failure and postpone the feed's next check."""
        self._execute_write(
            "UPDATE feeds SET last_fetched = :at, error_count = error_count + 1, "
            "last_error = :reason, next_check = :next WHERE id = :id",
            {"at": to_db_time(fetched), "reason": reason, "next": to_db_time(next_check),
             "id": feed_id},
        )

    # articles -------------------------------------------------------------------------------

    def known_entries(self, feed_id: int, keys: Sequence[str],
                      canonical_urls: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these entry keys (for this feed) and canonical URLs (anywhere) are stored."""
        known_keys: set[str] = set()
        known_urls: set[str] = set()
        for chunk in chunks(list(keys)):
            marks = ", ".join(f":k{i}" for i in range(len(chunk)))
            params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(chunk)}
            params["feed"] = feed_id
            sql = f"SELECT entry_key FROM articles WHERE feed_id = :feed AND entry_key IN ({marks})"
            known_keys.update(row[0] for row in self._db.execute(sql, params))
        for chunk in chunks(list(canonical_urls)):
            marks = ", ".join(f":u{i}" for i in range(len(chunk)))
            params = {f"u{i}": url for i, url in enumerate(chunk)}
            sql = f"SELECT canonical_url FROM articles WHERE canonical_url IN ({marks})"
            known_urls.update(row[0] for row in self._db.execute(sql, params))
        return known_keys, known_urls

    def add_articles(self, articles: Sequence[Article]) -> int:
        """Insert articles in one transaction; already stored ones are skipped. Returns count."""
        return len(self.insert_articles(articles))

    def insert_articles(self, articles: Sequence[Article]) -> list[int]:
        """Insert articles in one transaction, each its own story for now; already stored
        ones are skipped. Returns the new ids, in order (also set on the articles)."""
        ids: list[int] = []
        with self._transaction() as db:
            for article in articles:
                cursor = db.execute(_INSERT_ARTICLE, _article_params(article))
                if cursor.rowcount and cursor.lastrowid is not None:
                    article.id = cursor.lastrowid
                    ids.append(cursor.lastrowid)
                    db.execute("UPDATE articles SET story_id = id WHERE id = :id",
                               {"id": cursor.lastrowid})
        return ids

    def get_article(self, article_id: int) -> StoredArticle | None:
        """One article by its id (the id `nashra export` gives), or None."""
        row = self._db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.id = :id", {"id": article_id}).fetchone()
        return stored_article(row) if row else None

    def story_articles(self, story_ids: Sequence[int]) -> dict[int, list[StoredArticle]]:
        """The articles of these stories, each story's oldest first."""
        found: dict[int, list[StoredArticle]] = {}
        for chunk in chunks(list(dict.fromkeys(story_ids))):
            marks, params = placeholders("s", chunk)
            rows = self._db.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id "
                f"WHERE a.story_id IN ({marks}) ORDER BY a.published, a.id", params)
            for row in rows:
                article = stored_article(row)
                found.setdefault(article.story_id, []).append(article)
        return found

    def recent_articles(self, *, since: datetime | None = None, limit: int | None = None,
                        feed_ids: Sequence[int] | None = None) -> list[StoredArticle]:
        """Newest first, optionally only after ``since`` and from some feeds."""
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id"
        where, params = _article_filters(since, feed_ids)
        sql += where + " ORDER BY a.published DESC, a.id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [stored_article(row) for row in self._db.execute(sql, params)]

    def iter_articles(self, *, since: datetime | None = None) -> Iterator[StoredArticle]:
        """Every article oldest first, streamed (for export)."""
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id"
        where, params = _article_filters(since, None)
        for row in self._db.execute(sql + where + " ORDER BY a.published, a.id", params):
            yield stored_article(row)

    def count_articles(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def untranslated_articles(self, language: str, *, since: datetime,
                              limit: int) -> list[StoredArticle]:
        """Articles in ``language`` stored untranslated because the model failed (no model
        recorded), fetched since ``since``, newest first: what a refresh translates again.

        Partly translated articles (the model's output was unusable for some sentences) have
        their model recorded and are not retried. The ``fetched`` index bounds the scan.
        """
        rows = self._db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.fetched >= :since AND a.untranslated = 1 AND a.model = '' "
            "AND a.language = :language ORDER BY a.fetched DESC, a.id DESC LIMIT :limit",
            {"since": to_db_time(since), "language": language, "limit": limit})
        return [stored_article(row) for row in rows]

    def fill_translations(self, articles: Sequence[Article]) -> int:
        """Store the translations of articles stored untranslated (matched by ``id``), in one
        transaction; one another refresh filled meanwhile is left alone. Returns how many."""
        filled = 0
        with self._transaction() as db:
            for article in articles:
                filled += db.execute(
                    "UPDATE articles SET title_translated = :title, text_translated = :text, "
                    "lead = :lead, model = :model, untranslated = :untranslated "
                    "WHERE id = :id AND model = ''",
                    {"title": article.title_translated, "text": article.text_translated,
                     "lead": article.lead, "model": article.model,
                     "untranslated": int(article.untranslated), "id": article.id}).rowcount
        return filled

    # search ---------------------------------------------------------------------------------

    def reader(self) -> SearchReader:
        """Search through the read-only connection: from any thread, one call at a time."""
        return SearchReader(self.read_connection())

    def search_exists(self, match: str) -> bool:
        """Whether an already escaped FTS5 expression matches any article."""
        return _match_exists(self._db, match)

    def search_ranked(self, match: str, *, limit: int, offset: int = 0,
                      now: datetime) -> list[Ranked]:
        """(article id, score) of one page of matches, best first; no article is read."""
        return _rank(self._db, match, limit=limit, offset=offset, now=now)

    def search_hits(self, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]:
        """The articles and snippets of ``ranked``, in its order."""
        return _read_hits(self._db, match, ranked)

    def search_articles(self, match: str, *, limit: int, offset: int = 0,
                        now: datetime) -> list[SearchRow]:
        """Rank, then read the page: bm25 with a boost for recent articles."""
        return self.search_hits(match, self.search_ranked(match, limit=limit, offset=offset,
                                                          now=now))

    # translation cache ----------------------------------------------------------------------

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(sources))):
            marks = ", ".join(f":s{i}" for i in range(len(chunk)))
            params: dict[str, Any] = {f"s{i}": s for i, s in enumerate(chunk)}
            params["model"] = model_id
            sql = ("SELECT source, translation FROM translation_cache "
                   f"WHERE model = :model AND source IN ({marks})")
            found.update((row[0], row[1]) for row in self._db.execute(sql, params))
        return found

    def put_translations(self, model_id: str, pairs: Mapping[str, str]) -> None:
        now = to_db_time(datetime.now(UTC))
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO translation_cache (model, source, translation, created) "
                "VALUES (:model, :source, :translation, :now) "
                "ON CONFLICT (model, source) DO UPDATE SET translation = excluded.translation",
                [{"model": model_id, "source": s, "translation": t, "now": now}
                 for s, t in pairs.items()],
            )

    def count_cached_translations(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM translation_cache").fetchone()[0])


_INSERT_ARTICLE = """
INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, language,
                      title_original, text_original, title_translated, text_translated, lead,
                      model, untranslated, title_folded, text_folded)
VALUES (:feed_id, :key, :url, :canonical_url, :published, :fetched, :language,
        :title_original, :text_original, :title_translated, :text_translated, :lead,
        :model, :untranslated, :title_folded, :text_folded)
ON CONFLICT DO NOTHING
"""


class SearchReader:
    """The search steps on the store's read-only connection (see ``Store.reader``)."""

    def __init__(self, connection: ReadConnection) -> None:
        self._connection = connection

    def search_exists(self, match: str) -> bool:
        with self._connection.use() as db:
            return _match_exists(db, match)

    def search_ranked(self, match: str, *, limit: int, offset: int = 0,
                      now: datetime) -> list[Ranked]:
        with self._connection.use() as db:
            return _rank(db, match, limit=limit, offset=offset, now=now)

    def search_hits(self, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]:
        with self._connection.use() as db:
            return _read_hits(db, match, ranked)


def _match_exists(db: sqlite3.Connection, match: str) -> bool:
    return _search(db, _SEARCH_EXISTS, {"match": match}).fetchone() is not None


def _rank(db: sqlite3.Connection, match: str, *, limit: int, offset: int,
          now: datetime) -> list[Ranked]:
    params = {"match": match, "limit": limit, "offset": offset, "now": to_db_time(now)}
    return [(row["id"], row["score"]) for row in _search(db, _SEARCH_RANKED, params)]


def _read_hits(db: sqlite3.Connection, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]:
    """Read the ranked articles with snippets (snippet() needs the MATCH in its query).

    The snippet markers are random for each call, so text in an article cannot forge
    them; the constant markers are stripped from the text before they replace them.
    """
    start, end = _snippet_markers()
    found: dict[int, SearchRow] = {}
    for chunk in chunks(list(dict(ranked).items())):
        marks, params = placeholders("r", [article_id for article_id, _score in chunk])
        params.update({"match": match, "hs": start, "he": end})
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
SELECT 1
FROM articles_fts
JOIN articles a ON a.id = articles_fts.rowid
JOIN feeds f ON f.id = a.feed_id
WHERE articles_fts MATCH :match
LIMIT 1
"""

# bm25 weights: translated title, translated text, Arabic title, Arabic text. The recency
# factor runs from 2 (published now) towards 1 (weeks old); bm25 is negative, lower is better.
# Only ids and scores: the articles and snippets of the page shown are read afterwards.
_SEARCH_RANKED = """
SELECT articles_fts.rowid AS id,
       bm25(articles_fts, 8.0, 1.0, 6.0, 1.0)
         * (1.0 + 1.0 / (1.0 + MAX(julianday(:now) - julianday(a.published), 0) / 3.0))
         AS score
FROM articles_fts
JOIN articles a ON a.id = articles_fts.rowid
JOIN feeds f ON f.id = a.feed_id
WHERE articles_fts MATCH :match
ORDER BY score
LIMIT :limit OFFSET :offset
"""

_SEARCH_HITS = f"""
SELECT {ARTICLE_COLUMNS},
       snippet(articles_fts, -1, :hs, :he, '…', 16) AS snippet
FROM articles_fts
JOIN articles a ON a.id = articles_fts.rowid
JOIN feeds f ON f.id = a.feed_id
WHERE articles_fts MATCH :match AND articles_fts.rowid IN ({{ids}})
"""


def _article_filters(since: datetime | None,
                     feed_ids: Sequence[int] | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if since is not None:
        clauses.append("a.published >= :since")
        params["since"] = to_db_time(since)
    if feed_ids is not None:
        marks = ", ".join(f":f{i}" for i in range(len(feed_ids))) or "NULL"
        clauses.append(f"a.feed_id IN ({marks})")
        params.update({f"f{i}": fid for i, fid in enumerate(feed_ids)})
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _article_params(article: Article) -> dict[str, Any]:
    return {
        "feed_id": article.feed_id, "key": article.key, "url": article.url,
        "canonical_url": article.canonical_url, "published": to_db_time(article.published),
        "fetched": to_db_time(article.fetched), "language": article.language,
        "title_original": article.title_original, "text_original": article.text_original,
        "title_translated": article.title_translated,
        "text_translated": article.text_translated, "lead": article.lead,
        "model": article.model, "untranslated": int(article.untranslated),
        # What the full-text index holds for the Arabic original (its triggers copy these).
        "title_folded": normalize_arabic(article.title_original),
        "text_folded": normalize_arabic(article.text_original),
    }



def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        id=row["id"], url=row["url"], name=row["name"], etag=row["etag"],
        last_modified=row["last_modified"], last_fetched=optional_time(row["last_fetched"]),
        next_check=optional_time(row["next_check"]), error_count=row["error_count"],
        last_error=row["last_error"], article_count=row["n"], origin=row["origin"],
        active=bool(row["active"]), fetch_url=row["fetch_url"],
    )
