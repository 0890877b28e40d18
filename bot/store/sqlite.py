"""SQLite implementation of the store: WAL, one writer, named parameters, FTS5."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import FeedConfig
from bot.errors import StoreError
from bot.models import Article, FeedState
from bot.store.migrations import MIGRATIONS
from bot.store.records import SearchRow, StoredArticle
from bot.textnorm import normalize_arabic

HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# SQLite caps host parameters per statement; chunk IN (...) lists well below it.
_CHUNK = 500

_ARTICLE_COLUMNS = """
    a.id, a.feed_id, f.name AS feed_name, a.url, a.published, a.fetched, a.language,
    a.title_original, a.text_original, a.title_translated, a.text_translated, a.lead,
    a.model, a.untranslated
"""


def to_db_time(moment: datetime) -> str:
    """UTC text that sorts and compares correctly and that julianday() understands."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def from_db_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _optional_time(text: str | None) -> datetime | None:
    return from_db_time(text) if text else None


class Store:
    """Nashra's database. Not thread-safe: use it from one thread (the event loop's)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._db.create_function("nashra_fold", 1, _fold, deterministic=True)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self._transaction() as db:
                for statement in _statements(script):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (:v)", {"v": version})

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    # feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, configured: Sequence[FeedConfig], now: datetime) -> list[FeedState]:
        """Make sure every configured feed has a row (names follow the config); return them."""
        with self._transaction() as db:
            for feed in configured:
                db.execute(
                    "INSERT INTO feeds (url, name, created) VALUES (:url, :name, :now) "
                    "ON CONFLICT (url) DO UPDATE SET name = excluded.name",
                    {"url": feed.url, "name": feed.name, "now": to_db_time(now)},
                )
        urls = {feed.url for feed in configured}
        return [feed for feed in self.feeds() if feed.url in urls]

    def feeds(self) -> list[FeedState]:
        rows = self._db.execute(
            "SELECT f.*, (SELECT COUNT(*) FROM articles a WHERE a.feed_id = f.id) AS n "
            "FROM feeds f ORDER BY f.id"
        ).fetchall()
        return [_feed_state(row) for row in rows]

    def record_fetch_success(self, feed_id: int, fetched: datetime, *, etag: str | None,
                             last_modified: str | None) -> None:
        """A 200 or 304: store validators, clear the error streak."""
        self._execute_write(
            "UPDATE feeds SET etag = :etag, last_modified = :lm, last_fetched = :at, "
            "next_check = NULL, error_count = 0, last_error = NULL WHERE id = :id",
            {"etag": etag, "lm": last_modified, "at": to_db_time(fetched), "id": feed_id},
        )

    def record_fetch_failure(self, feed_id: int, fetched: datetime, reason: str,
                             next_check: datetime) -> None:
        """Count one more consecutive failure and postpone the feed's next check."""
        self._execute_write(
            "UPDATE feeds SET last_fetched = :at, error_count = error_count + 1, "
            "last_error = :reason, next_check = :next WHERE id = :id",
            {"at": to_db_time(fetched), "reason": reason, "next": to_db_time(next_check),
             "id": feed_id},
        )

    def _execute_write(self, sql: str, params: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(sql, params)

    # articles -------------------------------------------------------------------------------

    def known_entries(self, feed_id: int, keys: Sequence[str],
                      canonical_urls: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these entry keys (for this feed) and canonical URLs (anywhere) are stored."""
        known_keys: set[str] = set()
        known_urls: set[str] = set()
        for chunk in _chunks(list(keys)):
            marks = ", ".join(f":k{i}" for i in range(len(chunk)))
            params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(chunk)}
            params["feed"] = feed_id
            sql = f"SELECT entry_key FROM articles WHERE feed_id = :feed AND entry_key IN ({marks})"
            known_keys.update(row[0] for row in self._db.execute(sql, params))
        for chunk in _chunks(list(canonical_urls)):
            marks = ", ".join(f":u{i}" for i in range(len(chunk)))
            params = {f"u{i}": url for i, url in enumerate(chunk)}
            sql = f"SELECT canonical_url FROM articles WHERE canonical_url IN ({marks})"
            known_urls.update(row[0] for row in self._db.execute(sql, params))
        return known_keys, known_urls

    def add_articles(self, articles: Sequence[Article]) -> int:
        """Insert articles in one transaction; already stored ones are skipped. Returns count."""
        inserted = 0
        with self._transaction() as db:
            for article in articles:
                cursor = db.execute(_INSERT_ARTICLE, _article_params(article))
                inserted += cursor.rowcount
        return inserted

    def recent_articles(self, *, since: datetime | None = None, limit: int | None = None,
                        feed_ids: Sequence[int] | None = None) -> list[StoredArticle]:
        """Newest first, optionally only after ``since`` and from some feeds."""
        sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id"
        where, params = _article_filters(since, feed_ids)
        sql += where + " ORDER BY a.published DESC, a.id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_stored_article(row) for row in self._db.execute(sql, params)]

    def iter_articles(self, *, since: datetime | None = None) -> Iterator[StoredArticle]:
        """Every article oldest first, streamed (for export)."""
        sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN feeds f ON f.id = a.feed_id"
        where, params = _article_filters(since, None)
        for row in self._db.execute(sql + where + " ORDER BY a.published, a.id", params):
            yield _stored_article(row)

    def count_articles(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # search ---------------------------------------------------------------------------------

    def search_articles(self, match: str, *, limit: int, offset: int = 0,
                        now: datetime) -> list[SearchRow]:
        """Run an already escaped FTS5 expression; bm25 with a boost for recent articles."""
        params = {"match": match, "limit": limit, "offset": offset, "now": to_db_time(now),
                  "hs": HIGHLIGHT_START, "he": HIGHLIGHT_END}
        try:
            rows = self._db.execute(_SEARCH, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc
        return [SearchRow(_stored_article(row), row["snippet"], row["score"]) for row in rows]

    # translation cache ----------------------------------------------------------------------

    def get_translations(self, model_id: str, sources: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(sources))):
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
                      model, untranslated)
VALUES (:feed_id, :key, :url, :canonical_url, :published, :fetched, :language,
        :title_original, :text_original, :title_translated, :text_translated, :lead,
        :model, :untranslated)
ON CONFLICT DO NOTHING
"""

# bm25 weights: translated title, translated text, Arabic title, Arabic text. The recency
# factor runs from 2 (published now) towards 1 (weeks old); bm25 is negative, lower is better.
_SEARCH = f"""
SELECT {_ARTICLE_COLUMNS},
       snippet(articles_fts, -1, :hs, :he, '…', 16) AS snippet,
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


def _fold(text: str | None) -> str | None:
    return normalize_arabic(text) if text is not None else None


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


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


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
    }


def _stored_article(row: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        id=row["id"], feed_id=row["feed_id"], feed_name=row["feed_name"], url=row["url"],
        published=from_db_time(row["published"]), fetched=from_db_time(row["fetched"]),
        language=row["language"], title_original=row["title_original"],
        text_original=row["text_original"], title_translated=row["title_translated"],
        text_translated=row["text_translated"], lead=row["lead"], model=row["model"],
        untranslated=bool(row["untranslated"]),
    )


def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        id=row["id"], url=row["url"], name=row["name"], etag=row["etag"],
        last_modified=row["last_modified"], last_fetched=_optional_time(row["last_fetched"]),
        next_check=_optional_time(row["next_check"]), error_count=row["error_count"],
        last_error=row["last_error"], article_count=row["n"],
    )
