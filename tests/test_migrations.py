"""A database made by schema 3 opens under the current schema: articles become their own
stories, what chats were sent becomes sent stories with a watermark past it (4), the folded
Arabic is backfilled into its columns and the triggers stop calling nashra_fold (5), and the
full-text index still answers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from support.old_schema import database_at_schema

from bot.search import search
from bot.store import Store
from bot.store import search as store_search
from bot.store.migrations import MIGRATIONS

NOW = "2026-11-20 08:00:00"
LATER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def schema_3_database(path: Path) -> None:
    db = database_at_schema(path, 3)
    db.execute("INSERT INTO feeds (url, name, created) VALUES ('https://a.example/rss', 'A', ?)",
               (NOW,))
    for n in (1, 2, 3):
        db.execute(
            "INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, "
            "language, title_original, text_original, title_translated, text_translated, lead, "
            "model) VALUES (1, ?, ?, ?, ?, ?, 'ar', 'الحكومة', 'نص', ?, 'Text', 'Lead', 'm')",
            (f"k{n}", f"https://a.example/{n}", f"https://a.example/{n}", NOW, NOW,
             f"Cabinet news {n}"))
    db.execute("INSERT INTO chats (id, type, times, timezone, max_items, created) "
               "VALUES (7, 'private', '08:00', 'UTC', 10, ?)", (NOW,))
    db.execute("INSERT INTO chat_articles VALUES (7, 1, ?), (7, 2, ?)", (NOW, NOW))
    db.close()


def test_schema_3_database_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    schema_3_database(path)
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert [a.story_id for a in store.iter_articles()] == [1, 2, 3]
        assert store.stories_sent(7, [1, 2, 3]) == {1, 2}
        chat = store.get_chat(7)
        assert chat is not None and chat.watermark == 2 and chat.thread_id is None
        assert {a.id for a in (store.get_article(n) for n in (1, 2, 3)) if a} == {1, 2, 3}
        assert store.search_articles('"cabinet"', limit=5, now=LATER) != []
        # Moving an article to another story does not touch its full-text entry.
        store._db.execute("UPDATE articles SET story_id = 1 WHERE id = 3")
        assert len(store.search_articles('"الحكومه"', limit=5, now=LATER)) == 3


def test_schema_5_backfills_folded_text_and_keeps_the_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    schema_3_database(path)
    with Store(path) as store:
        rows = store._db.execute(
            "SELECT a.title_folded, a.text_folded, f.title_original, f.text_original "
            "FROM articles a JOIN articles_fts f ON f.rowid = a.id ORDER BY a.id").fetchall()
        assert [tuple(row) for row in rows] == [("الحكومه", "نص", "الحكومه", "نص")] * 3
        triggers = store._db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
        assert not [sql for (sql,) in triggers if "nashra_fold" in sql]
        assert len(search(store, "الحُكُومَةُ", now=LATER).hits) == 3
    raw = sqlite3.connect(path)  # no nashra_fold: old rows can be edited by any client
    with raw:
        raw.execute("UPDATE articles SET title_original = 'الوزارة', title_folded = 'الوزاره' "
                    "WHERE id = 2")
        raw.execute("DELETE FROM articles WHERE id = 3")
    raw.close()
    with Store(path) as store:
        assert [h.article.id for h in search(store, "الحكومة", now=LATER).hits] == [1]
        assert [h.article.id for h in search(store, "الوزارة", now=LATER).hits] == [2]


def schema_6_database(path: Path) -> None:
    """A database as schema 6 left it: two copies of one article, a month apart."""
    db = database_at_schema(path, 6)
    db.execute("INSERT INTO feeds (url, name, created) VALUES ('https://a.example/rss', 'A', ?)",
               (NOW,))
    for n, published in ((1, "2026-10-20 08:00:00"), (2, NOW)):
        db.execute(
            "INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, "
            "language, title_original, text_original, title_translated, text_translated, lead, "
            "model, title_folded, text_folded) VALUES (1, ?, ?, ?, ?, ?, 'ar', 'الحكومة', 'نص', "
            "'Cabinet news', 'Text', 'Lead', 'm', 'الحكومه', 'نص')",
            (f"k{n}", f"https://a.example/{n}", f"https://a.example/{n}", published, NOW))
    db.execute("UPDATE articles SET story_id = id")
    db.close()


def test_schema_7_ranks_without_reading_article_rows(tmp_path: Path) -> None:
    """Schema 7 indexes publication times by id for the rows already stored, and ranking
    reads them there: the full-text index and that covering index, no article row."""
    path = tmp_path / "old.db"
    schema_6_database(path)
    with Store(path) as store:
        assert store.schema_version >= 7
        params = {"match": '"cabinet"', "titles": '{title_translated} : ("cabinet")',
                  "window": 10, "limit": 5, "offset": 0, "now": NOW}
        for sql in (store_search._RANKED_NEWEST, store_search._RANKED_BM25):
            plan = [row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert "SEARCH a USING COVERING INDEX articles_recency (id=?)" in plan, plan
        assert [h.article.id for h in search(store, "الحكومة", now=LATER).hits] == [2, 1]
        # SQLite keeps the index current (no trigger): a newer date moves article 1 up.
        store._db.execute("UPDATE articles SET published = '2026-11-20 08:30:00' WHERE id = 1")
        assert [h.article.id for h in search(store.reader(), "cabinet", now=LATER).hits] == [1, 2]
        triggers = store._db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
        assert not [sql for (sql,) in triggers if "nashra_fold" in sql]
