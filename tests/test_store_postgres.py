"""The PostgreSQL store: its schema at the SQLite schema's version, the search columns the
store writes, passwords kept out of errors, SQLite-only tools refused with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from test_store import FEEDS, NOW, make_article, open_together

from bot.errors import StoreError
from bot.store import Store, migrations_pg
from bot.store.connection import postgres_sql, redact_url
from bot.store.migrations import MIGRATIONS


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    with Store(postgres_url) as opened:
        yield opened


def lexemes(store: Store, column: str, article_id: int) -> str:
    return str(store._db.execute(f"SELECT {column}::text FROM articles WHERE id = :id",
                                 {"id": article_id}).fetchone()[0])


def test_both_engines_reach_the_same_schema_version(store: Store) -> None:
    assert store.schema_version == len(MIGRATIONS)
    assert migrations_pg.BASELINE_VERSION + len(migrations_pg.MIGRATIONS) == len(MIGRATIONS), (
        "a SQLite migration needs its PostgreSQL twin in bot/store/migrations_pg.py")


def test_the_store_writes_weighted_exact_forms_and_stems(store: Store) -> None:
    feed = store.sync_feeds(FEEDS, NOW)[0]
    [article_id] = store.insert_articles([make_article(feed.id, 1)])
    exact = lexemes(store, "search_exact", article_id)
    # Titles weigh A, the lead B, texts C; Arabic is folded (ه for ة, ا for أ).
    assert "'headline':2A" in exact and "'markets':13C" in exact
    assert "'العالميه':23C" in exact and "'اسعار':19C" in exact
    stems = lexemes(store, "search_stems", article_id)
    assert "'market'" in stems and "'عالم'" in stems


def test_filled_translations_replace_the_search_columns(store: Store) -> None:
    feed = store.sync_feeds(FEEDS, NOW)[0]
    [article_id] = store.insert_articles([make_article(
        feed.id, 1, title_translated="Untitled", text_translated="", lead="", model="",
        untranslated=True)])
    assert "'untitled'" in lexemes(store, "search_exact", article_id)
    filled = make_article(feed.id, 1, title_translated="Wheat harvests rose",
                          text_translated="Wheat harvests rose in the north.", lead="Wheat.")
    filled.id = article_id
    assert store.fill_translations([filled]) == 1
    exact = lexemes(store, "search_exact", article_id)
    assert "'untitled'" not in exact and "'wheat'" in exact
    assert "'harvest'" in lexemes(store, "search_stems", article_id)


def test_two_processes_opening_a_new_database_create_the_schema_once(
        postgres_url: str) -> None:
    assert open_together(postgres_url) == [len(MIGRATIONS)] * 3
    with Store(postgres_url) as store:
        rows = store._db.execute("SELECT version FROM schema_version").fetchall()
        assert [row[0] for row in rows] == list(range(migrations_pg.BASELINE_VERSION,
                                                      len(MIGRATIONS) + 1))


def test_passwords_stay_out_of_errors(postgres_server: str) -> None:
    url = postgres_server.replace("postgres@", "postgres:hunter2@").rsplit("/", 1)[0]
    with pytest.raises(StoreError) as raised:
        Store(url + "/no_such_database")
    assert "hunter2" not in str(raised.value) and "***" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is not None
    assert redact_url("password=hunter2 host=db") == "password=*** host=db"


def test_sqlite_tools_are_refused_with_a_reason(store: Store, tmp_path: object) -> None:
    for call in (lambda: store.path, store.integrity_check, store.vacuum):
        with pytest.raises(StoreError, match="needs an SQLite database"):
            call()


def test_named_parameters_become_psycopg_placeholders() -> None:
    assert postgres_sql("SELECT :a, '5%', x::text FROM t WHERE b = :b_2") == (
        "SELECT %(a)s, '5%%', x::text FROM t WHERE b = %(b_2)s")


def test_a_database_at_the_baseline_is_upgraded(postgres_url: str) -> None:
    """A PostgreSQL database made by the version before migration 11 gets the later steps."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in migrations_pg.statements(migrations_pg.BASELINE):
            db.execute(statement)   # type: ignore[call-overload]
        db.execute("INSERT INTO schema_version VALUES (%s)", (migrations_pg.BASELINE_VERSION,))
        db.execute("INSERT INTO feeds (url, name, created) VALUES ('https://a.example/rss', "
                   "'A', '2026-11-20 08:00:00')")
    with Store(postgres_url) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.claim_feeds([1], "worker-a", NOW, timedelta(minutes=5), limit=1) == [1]
