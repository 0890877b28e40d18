"""A database made by schema 3 opens under the current schema: articles become their own
stories, what chats were sent becomes sent stories with a watermark past it (4), the folded
Arabic is backfilled into its columns and the triggers stop calling nashra_fold (5), stems
are backfilled and the search index is rebuilt from them (9), the store takes over writing
the index and the analysis columns go (10), and search still answers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from support.old_schema import database_at_schema, upgrade_to_schema

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
    db = upgrade_to_schema(path, 5)
    rows = db.execute("SELECT title_folded, text_folded FROM articles ORDER BY id").fetchall()
    assert rows == [("الحكومه", "نص")] * 3
    triggers = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
    assert not [sql for (sql,) in triggers if "nashra_" in sql]
    db.close()
    db = upgrade_to_schema(path, 9)
    db.create_function("nashra_fold", 1, None)  # schema 9 triggers: any client could write
    db.create_function("nashra_stems", 2, None)
    with db:
        db.execute("UPDATE articles SET title_original = 'الوزارة', title_folded = 'الوزاره', "
                   "title_stems = 'cabinet news وزار' WHERE id = 2")
        db.execute("DELETE FROM articles WHERE id = 3")
    db.close()
    with Store(path) as store:
        assert len(search(store.reader(), "الحُكُومَةُ", now=LATER).hits) == 1
        assert [h.article.id for h in search(store.reader(), "الحكومة", now=LATER).hits] == [1]
        assert [h.article.id for h in search(store.reader(), "الوزارة", now=LATER).hits] == [2]
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


def schema_8_database(path: Path) -> None:
    """A database as schema 8 left it: one article, with its folded Arabic."""
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


def test_schema_9_backfills_stems_and_stemmed_search_finds_old_articles(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    schema_8_database(path)
    db = upgrade_to_schema(path, 9)
    stems = db.execute("SELECT title_stems, text_stems FROM articles").fetchone()
    assert stems[0] == "elect انتخاب"
    assert {"govern", "elect", "حكوم", "انتخاب"} <= set(stems[1].split())
    db.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS) >= 10
        reader = store.reader()
        for query in ("election", "government", "حكومة", "الحكومة", "حكومات", "انتخاب"):
            assert [h.article.id for h in search(reader, query, now=LATER).hits] == [1], query


def test_schema_10_drops_the_analysis_columns_and_indexes_rows_that_lacked_them(
        tmp_path: Path) -> None:
    """Rows another client wrote without folded Arabic or stems (indexed unfolded, no stems)
    are indexed again with the analysis, and the store can then fill them in."""
    path = tmp_path / "old.db"
    schema_8_database(path)
    db = upgrade_to_schema(path, 9)
    db.execute(
        "INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, "
        "language, title_original, text_original, title_translated, text_translated, lead, "
        "model, untranslated) VALUES (1, 'bare', 'https://a.example/2', 'https://a.example/2', "
        "?, ?, 'ar', 'مطارُ دمشقَ', 'استأنفت الرحلات إلى المطارات', '', '', '', '', 1)",
        (NOW, NOW))
    assert db.execute("SELECT title_stems FROM articles WHERE id = 2").fetchone() == (None,)
    db.close()
    with Store(path) as store:
        # The upgrade's pages are back in the database file: the WAL is empty again.
        assert path.with_name("old.db-wal").stat().st_size == 0
        columns = {row[1] for row in store._db.execute("PRAGMA table_info(articles)")}
        assert not {"title_folded", "text_folded", "title_stems", "text_stems"} & columns
        reader = store.reader()
        assert [h.article.id for h in search(reader, "مطار", now=LATER).hits] == [2]
        assert [h.article.id for h in search(reader, "المطار", now=LATER).hits] == [2]  # stem
        assert [h.article.id for h in search(reader, "حكومة", now=LATER).hits] == [1]
        article = store.get_article(2)
        assert article is not None
        filled = dataclasses.replace(
            article, title_translated="Damascus airport", text_translated="Flights resume.",
            lead="Flights resume.", model="m", untranslated=False)
        assert store.fill_translations([filled]) == 1  # type: ignore[list-item]
        assert [h.article.id for h in search(reader, "flight", now=LATER).hits] == [2]
        assert [h.article.id for h in search(reader, "مطارات", now=LATER).hits] == [2]
        store._db.execute("INSERT INTO search_index (search_index, rank) "
                          "VALUES ('integrity-check', 1)")
