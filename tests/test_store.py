"""The SQLite store: migrations, WAL, idempotent writes, feeds health, cache, FTS triggers,
and writes by SQLite clients other than Nashra."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import FeedConfig
from bot.models import Article
from bot.search import search
from bot.store import Store
from bot.store.migrations import MIGRATIONS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FEEDS = (FeedConfig("http://127.0.0.1/a.xml", "مصدر أ"), FeedConfig("http://127.0.0.1/b", "B"))


def make_article(feed_id: int, n: int, **changes: object) -> Article:
    article = Article(
        feed_id=feed_id, key=f"guid-{n}", url=f"http://127.0.0.1/news/{n}",
        canonical_url=f"http://127.0.0.1/news/{n}", published=NOW - timedelta(hours=n),
        fetched=NOW, language="ar", title_original=f"عنوانُ الخبرِ رقم {n}",
        text_original="ارتفعت أسعار النفط في الأسواق العالمية.",
        title_translated=f"News headline number {n}",
        text_translated="Oil prices rose on world markets.", lead="Oil prices rose.",
        model="ar-en@1.0",
    )
    for name, value in changes.items():
        setattr(article, name, value)
    return article


@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    with Store(store_location) as opened:
        yield opened


def test_creates_folder_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "n.db"
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reopening_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    Store(path).close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        rows = store._db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
        assert rows == len(MIGRATIONS)


def test_sync_feeds_is_idempotent_and_follows_names(store: Store) -> None:
    first = store.sync_feeds(FEEDS, NOW)
    again = store.sync_feeds((FeedConfig(FEEDS[0].url, "renamed"), FEEDS[1]), NOW)
    assert [f.id for f in first] == [f.id for f in again]
    assert again[0].name == "renamed"


def test_articles_are_stored_once(store: Store) -> None:
    feed = store.sync_feeds(FEEDS, NOW)[0]
    assert store.add_articles([make_article(feed.id, 1), make_article(feed.id, 2)]) == 2
    assert store.add_articles([make_article(feed.id, 1)]) == 0
    same_url_other_key = make_article(feed.id, 9, canonical_url="http://127.0.0.1/news/1")
    assert store.add_articles([same_url_other_key]) == 0
    assert store.count_articles() == 2


def test_known_entries_by_key_and_canonical_url(store: Store) -> None:
    a, b = store.sync_feeds(FEEDS, NOW)
    store.add_articles([make_article(a.id, 1)])
    keys, urls = store.known_entries(b.id, ["guid-1", "other"], ["http://127.0.0.1/news/1"])
    assert keys == set()  # keys are per feed
    assert urls == {"http://127.0.0.1/news/1"}  # URLs are global
    keys, _ = store.known_entries(a.id, ["guid-1", "guid-2"], [])
    assert keys == {"guid-1"}


def test_recent_articles_newest_first_with_filters(store: Store) -> None:
    a, b = store.sync_feeds(FEEDS, NOW)
    store.add_articles([make_article(a.id, n) for n in (1, 5, 30)]
                       + [make_article(b.id, 2, key="b2", canonical_url="http://x/b2")])
    recent = store.recent_articles(since=NOW - timedelta(hours=24))
    assert [r.title_translated for r in recent] == [
        "News headline number 1", "News headline number 2", "News headline number 5"]
    assert recent[0].feed_name == "مصدر أ"
    only_b = store.recent_articles(feed_ids=[b.id])
    assert [r.feed_id for r in only_b] == [b.id]
    assert store.recent_articles(limit=1)[0].published == NOW - timedelta(hours=1)


def test_feed_failures_count_and_success_resets(store: Store) -> None:
    feed = store.sync_feeds(FEEDS, NOW)[0]
    store.record_fetch_failure(feed.id, NOW, "fetch: HTTP 500", NOW + timedelta(minutes=20))
    store.record_fetch_failure(feed.id, NOW, "fetch: HTTP 502", NOW + timedelta(minutes=40))
    state = store.feeds()[0]
    assert (state.error_count, state.last_error) == (2, "fetch: HTTP 502")
    assert state.next_check == NOW + timedelta(minutes=40)
    store.record_fetch_success(feed.id, NOW, etag='"v2"', last_modified="Fri, 20 Nov 2026")
    state = store.feeds()[0]
    assert (state.error_count, state.last_error, state.next_check) == (0, None, None)
    assert state.etag == '"v2"'


def test_translation_cache_is_per_model(store: Store) -> None:
    store.put_translations("m1", {"جملة": "a sentence"})
    assert store.get_translations("m1", ["جملة", "أخرى"]) == {"جملة": "a sentence"}
    assert store.get_translations("m2", ["جملة"]) == {}
    many = {f"جملة {i}": f"s {i}" for i in range(1200)}
    store.put_translations("m1", many)
    assert len(store.get_translations("m1", list(many))) == 1200


def found(store: Store, text: str) -> list[int]:
    """Ids of the stories ``text`` finds, through the read-only connection as the bot does."""
    return [hit.article.id for hit in search(store.reader(), text, now=NOW).hits]


def test_search_index_follows_filled_translations(store: Store) -> None:
    """An article stored untranslated is found by its Arabic; once its translation is filled
    in, by the English too, and the placeholder English is no longer in the index."""
    feed = store.sync_feeds(FEEDS, NOW)[0]
    store.add_articles([make_article(feed.id, 1, title_translated="Untitled",
                                     text_translated="", lead="", model="",
                                     untranslated=True)])
    assert found(store, "untitled") == found(store, "النفط") == [1]
    assert not found(store, "oil")
    stored = store.get_article(1)
    assert stored is not None
    filled = make_article(feed.id, 1, title_translated="Wheat harvests rose",
                          text_translated="Wheat harvests rose in the north.",
                          lead="Wheat harvests rose.")
    filled.id = 1
    assert store.fill_translations([filled]) == 1
    assert store.fill_translations([filled]) == 0  # filled once only
    assert not found(store, "untitled")
    assert found(store, '"wheat"') == found(store, "harvest") == found(store, "النفط") == [1]
    if not store.postgres:
        store._db.execute("INSERT INTO search_index (search_index, rank) "
                          "VALUES ('integrity-check', 1)")


def _indexed(store: Store, expression: str) -> list[int]:
    return [row[0] for row in store._db.execute(
        "SELECT rowid FROM search_index WHERE search_index MATCH ?", (expression,))]


def test_index_holds_folded_arabic_and_stems_and_the_rows_do_not(store: Store) -> None:
    if store.postgres:
        pytest.skip("SQLite's FTS5 index; PostgreSQL's tsvector columns: test_store_postgres.py")
    feed = store.sync_feeds(FEEDS, NOW)[0]
    store.add_articles([make_article(feed.id, 1)])
    columns = {row[1] for row in store._db.execute("PRAGMA table_info(articles)")}
    assert not {"title_folded", "text_folded", "title_stems", "text_stems"} & columns
    # The index holds no text to read back (contentless): what it matches shows what it was
    # given. Arabic fields hold the folded forms (ه for ة), stems fields the stems.
    assert _indexed(store, 'text_ar : "العالميه"') == [1]
    assert _indexed(store, 'text_ar : "العالمية"') == []
    assert _indexed(store, 'text_stems : "market"') == [1]
    assert _indexed(store, 'text_stems : "عالم"') == [1]
    assert _indexed(store, 'text_en : "market"') == []
    assert _indexed(store, 'title_en : "headline"') == [1]
    assert not store._db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                 "AND tbl_name = 'articles'").fetchall()


def test_processes_starting_together_on_a_new_file_create_the_schema_once(
        tmp_path: Path) -> None:
    """The whole schema is one transaction on a new file: all of it or none after a crash,
    and a second process waits for the write lock instead of creating tables twice."""
    path = tmp_path / "new.db"
    assert open_together(path) == [len(MIGRATIONS)] * 3
    raw = sqlite3.connect(path)
    versions = [row[0] for row in raw.execute("SELECT version FROM schema_version")]
    raw.close()
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def open_together(location: Path | str, processes: int = 3) -> list[int]:
    """Open a store from several threads at once (as processes starting together would);
    returns the schema version each saw, after raising the first error any met."""
    import threading

    versions: list[int] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            with Store(location) as opened:
                versions.append(opened.schema_version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return versions
