"""A database made by schema 3 opens under the current schema: articles become their own
stories, what chats were sent becomes sent stories with a watermark past it (4), the folded
Arabic is backfilled into its columns and the triggers stop calling nashra_fold (5), stems
are backfilled and the search index is rebuilt from them (9), and search still answers."""

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
        assert search(store.reader(), "cabinet", now=LATER).hits != []
        # Moving an article to another story does not touch its full-text entry (and search
        # shows one result per story).
        store._db.execute("UPDATE articles SET story_id = 1 WHERE id = 3")
        page = search(store.reader(), '"الحكومة"', now=LATER)
        assert sorted(h.article.story_id for h in page.hits) == [1, 2]


def test_schema_5_backfills_folded_text_and_keeps_the_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    schema_3_database(path)
    with Store(path) as store:
        rows = store._db.execute(
            "SELECT title_folded, text_folded FROM articles ORDER BY id").fetchall()
        assert [tuple(row) for row in rows] == [("الحكومه", "نص")] * 3
        triggers = store._db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
        assert not [sql for (sql,) in triggers if "nashra_" in sql]
        assert len(search(store.reader(), "الحُكُومَةُ", now=LATER).hits) == 3
    raw = sqlite3.connect(path)  # no nashra_ functions: any client can edit and delete rows
    with raw:
        raw.execute("UPDATE articles SET title_original = 'الوزارة', title_folded = 'الوزاره', "
                    "title_stems = 'cabinet news وزار' WHERE id = 2")
        raw.execute("DELETE FROM articles WHERE id = 3")
    raw.close()
    with Store(path) as store:
        assert [h.article.id for h in search(store.reader(), "الحكومة", now=LATER).hits] == [1]
        assert [h.article.id for h in search(store.reader(), "الوزارة", now=LATER).hits] == [2]
        # The index agrees with the rows (a contentless index corrupts on a wrong delete).
        store._db.execute("INSERT INTO search_index (search_index, rank) "
                          "VALUES ('integrity-check', 1)")


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


def test_ranking_reads_the_index_and_one_covering_index_only(tmp_path: Path) -> None:
    """Ranking reads the search index and the covering index of id, publication time,
    source and story (schema 9; schema 7 started it), never an article row."""
    path = tmp_path / "old.db"
    schema_6_database(path)
    with Store(path) as store:
        params = {"match": '"cabinet"', "titles": '{title_en} : ("cabinet")',
                  "window": 10, "limit": 5, "offset": 0, "now": NOW}
        for sql in (store_search._RANKED_NEWEST, store_search._RANKED_BM25):
            plan = [row[3] for row in store._db.execute(
                f"EXPLAIN QUERY PLAN {sql.format(scope='')}", params)]
            assert "SEARCH a USING COVERING INDEX articles_search (id=?)" in plan, plan
        # Two copies of one article are one story each here: both found, newest first.
        assert [h.article.id for h in search(store.reader(), "الحكومة", now=LATER).hits] == [
            2, 1]
        # SQLite keeps the index current (no trigger): a newer date moves article 1 up.
        store._db.execute("UPDATE articles SET published = '2026-11-20 08:30:00' WHERE id = 1")
        assert [h.article.id for h in search(store.reader(), "cabinet", now=LATER).hits] == [1, 2]


def test_schema_9_backfills_stems_and_stemmed_search_finds_old_articles(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = database_at_schema(path, 8)
    db.execute("INSERT INTO feeds (url, name, created) VALUES ('https://a.example/rss', 'A', ?)",
               (NOW,))
    db.execute(
        "INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, "
        "language, title_original, text_original, title_translated, text_translated, lead, "
        "model, title_folded, text_folded) VALUES (1, 'k', 'https://a.example/1', "
        "'https://a.example/1', ?, ?, 'ar', 'الانتخابات', 'قالت للحكومات إنها ستجري الانتخابات', "
        "'Elections', 'The governments said the elections would be held.', 'Lead', 'm', "
        "'الانتخابات', 'قالت للحكومات انها ستجري الانتخابات')", (NOW, NOW))
    db.execute("UPDATE articles SET story_id = id")
    db.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS) >= 9
        stems = store._db.execute("SELECT title_stems, text_stems FROM articles").fetchone()
        assert stems[0] == "elect انتخاب"
        assert {"govern", "elect", "حكوم", "انتخاب"} <= set(stems[1].split())
        reader = store.reader()
        for query in ("election", "government", "حكومة", "الحكومة", "حكومات", "انتخاب"):
            assert [h.article.id for h in search(reader, query, now=LATER).hits] == [1], query
        names = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master")}
        assert "articles_fts" not in names and "articles_recency" not in names
