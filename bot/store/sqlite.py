"""SQLite implementation of the store: WAL, one writer, named parameters, FTS5."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.config import FeedConfig
from bot.models import Article, FeedState
from bot.store.base import chunks, optional_time, placeholders, to_db_time
from bot.store.chats import ChatQueries
from bot.store.connection import Row
from bot.store.feedhealth import FeedHealthQueries
from bot.store.feedlist import FeedListQueries
from bot.store.index import SOURCE_COLUMNS, add_to_index, index_row, remove_from_index
from bot.store.languages import LanguageQueries
from bot.store.leases import LeaseQueries
from bot.store.pgsearch import PostgresSearchReader
from bot.store.records import ARTICLE_COLUMNS, StoredArticle, stored_article
from bot.store.search import SearchReader
from bot.store.stories import StoryQueries


class Store(ChatQueries, StoryQueries, LeaseQueries, FeedHealthQueries, FeedListQueries,
            LanguageQueries):
    """Nashra's database. Not thread-safe: use it from one thread (the event loop's)."""

    # feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, configured: Sequence[FeedConfig], now: datetime) -> list[FeedState]:
        """Upsert the configured feeds (names follow the config) and return the feeds to
        refresh: configured ones plus those admins added from the chat, unless removed."""
        with self._transaction() as db:
            for feed in configured:
                db.execute(
                    "INSERT INTO feeds (url, name, category, language, created) "
                    "VALUES (:url, :name, :category, :language, :now) "
                    "ON CONFLICT (url) DO UPDATE SET name = excluded.name, "
                    "category = excluded.category, language = excluded.language",
                    {"url": feed.url, "name": feed.name, "category": feed.category,
                     "language": feed.language, "now": to_db_time(now)},
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
            "next_check = NULL, error_count = 0, last_error = NULL, failing_since = NULL "
            "WHERE id = :id",
            {"etag": etag, "lm": last_modified, "at": to_db_time(fetched), "id": feed_id},
        )

    def record_feed_moved(self, feed_id: int, fetch_url: str | None) -> None:
        """Fetch this feed from ``fetch_url`` from now on (None: from its own URL again)."""
        self._execute_write("UPDATE feeds SET fetch_url = :to WHERE id = :id",
                            {"to": fetch_url, "id": feed_id})

    def record_fetch_failure(self, feed_id: int, fetched: datetime, reason: str,
                             next_check: datetime) -> None:
        """Count one more consecutive failure (the first starts ``failing_since``) and
        postpone the feed's next check."""
        self._execute_write(
            "UPDATE feeds SET last_fetched = :at, error_count = error_count + 1, "
            "last_error = :reason, next_check = :next, "
            "failing_since = COALESCE(failing_since, :at) WHERE id = :id",
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
        # Analysed before the write lock is taken: a few milliseconds an article.
        index_rows = [index_row(_index_source(article)) for article in articles]
        with self._transaction() as db:
            for article, row in zip(articles, index_rows, strict=True):
                inserted = db.execute(_INSERT_ARTICLE, _article_params(article)).fetchone()
                if inserted is not None:
                    article.id = row["id"] = inserted[0]
                    ids.append(inserted[0])
                    db.execute("UPDATE articles SET story_id = id WHERE id = :id",
                               {"id": inserted[0]})
                    db.execute("INSERT INTO alert_queue (article_id) VALUES (:id)",
                               {"id": inserted[0]})
                    add_to_index(db, [row], postgres=self.postgres)
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
                stored = db.execute(f"SELECT {SOURCE_COLUMNS} FROM articles "
                                    "WHERE id = :id AND model = ''", {"id": article.id}).fetchone()
                if stored is None:
                    continue
                remove_from_index(db, [index_row(stored)], postgres=self.postgres)
                db.execute(
                    "UPDATE articles SET title_translated = :title, text_translated = :text, "
                    "lead = :lead, model = :model, untranslated = :untranslated "
                    "WHERE id = :id",
                    {"title": article.title_translated, "text": article.text_translated,
                     "lead": article.lead, "model": article.model,
                     "untranslated": int(article.untranslated), "id": article.id})
                add_to_index(db, [index_row({
                    **dict(stored), "title_translated": article.title_translated,
                    "lead": article.lead, "text_translated": article.text_translated})],
                    postgres=self.postgres)
                filled += 1
        return filled

    # search ---------------------------------------------------------------------------------

    def reader(self) -> SearchReader | PostgresSearchReader:
        """Search through the read-only connection: from any thread, one call at a time."""
        if self.postgres:
            return PostgresSearchReader(self.read_connection())
        return SearchReader(self.read_connection())

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
                      model, untranslated)
VALUES (:feed_id, :key, :url, :canonical_url, :published, :fetched, :language,
        :title_original, :text_original, :title_translated, :text_translated, :lead,
        :model, :untranslated)
ON CONFLICT DO NOTHING
RETURNING id
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
    }


def _index_source(article: Article) -> dict[str, Any]:
    """An article's :data:`bot.store.index.SOURCE_COLUMNS`, as :func:`index_row` takes them."""
    return {"id": article.id, "title_translated": article.title_translated,
            "lead": article.lead, "text_translated": article.text_translated,
            "title_original": article.title_original, "text_original": article.text_original}



def _feed_state(row: Row) -> FeedState:
    return FeedState(
        id=row["id"], url=row["url"], name=row["name"], etag=row["etag"],
        last_modified=row["last_modified"], last_fetched=optional_time(row["last_fetched"]),
        next_check=optional_time(row["next_check"]), error_count=row["error_count"],
        last_error=row["last_error"], article_count=row["n"], origin=row["origin"],
        active=bool(row["active"]), fetch_url=row["fetch_url"],
        category=row["category"], language=row["language"],
        failing_since=optional_time(row["failing_since"]),
        paused_at=optional_time(row["paused_at"]),
    )
