"""PostgreSQL search only: tokens nothing parses reach the reader safely, and queries use the
GIN indexes. (Everything a reader sees is tested on both engines in tests/test_search.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from test_store import FEEDS, NOW, make_article

from bot.query import Query
from bot.store import Store
from bot.store.base import ReadConnection
from bot.store.pgsearch import PostgresSearchReader
from bot.store.search import SearchScope

DAY = timedelta(days=1)
HOSTILE = ["'", "''", '"', "\\", "\\'", "a&b", "a|b", "!a", "!!", "a:*", "bank:*", "ban:*",
           "(a", "a)", "<->", "a <-> b", "a <2> b", ":a", "a:b", "*", "\x00", "ba\x00nk",
           "'; DROP TABLE articles;--", "%", "_", "%(p)s", "$1", "?", ":t0", "::text", ""]


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    with Store(postgres_url) as db:
        feed = db.sync_feeds(FEEDS, NOW)[0]
        db.add_articles([make_article(feed.id, 1, title_translated="Central bank raises rates")])
        yield db


def test_tokens_no_parser_made_are_bound_not_read_as_syntax(store: Store) -> None:
    """The query parser only hands over word runs; the reader is safe without it too."""
    reader = store.reader()
    assert isinstance(reader, PostgresSearchReader)
    for token in HOSTILE:
        query = Query(words=(token, "bank"), phrases=((token, "rates"),), exact_words=(token,),
                      excluded=((token,), (token, token)), excluded_exact=(token,))
        for any_term in (False, True):
            reader.search_exists(query, SearchScope(), any_term=any_term)
            for scope in (SearchScope(), SearchScope((1,), NOW - DAY, NOW)):
                reader.search_ranked(query, scope, limit=5, now=NOW, any_term=any_term)
        reader.search_sources([token])
    assert store.count_articles() == 1


def test_operators_in_a_token_are_not_tsquery_syntax(store: Store) -> None:
    reader = store.reader()
    found = reader.search_ranked(Query(words=("bank:*",)), SearchScope(), limit=5, now=NOW)
    assert [m.article_id for m in found] == [1]   # the word bank, nothing more
    assert reader.search_ranked(Query(words=("ban:*",)), SearchScope(), limit=5, now=NOW) == []
    # "!rates" is the word rates (present), not "not rates".
    assert reader.search_exists(Query(words=("bank", "!rates")), SearchScope())
    assert reader.search_sources(["\x00"]) == ()


class _Explaining:
    """A read connection that keeps the plan of every search statement, as planned where
    it runs (inside the reader's transaction)."""

    def __init__(self, inner: ReadConnection) -> None:
        self.inner = inner
        self.plans: list[str] = []

    @contextmanager
    def use(self) -> Iterator[Any]:
        with self.inner.use() as db:
            yield self._Db(db, self.plans)

    class _Db:
        def __init__(self, db: Any, plans: list[str]) -> None:
            self.db, self.plans = db, plans

        def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
            if "@@" in sql:
                rows = self.db.execute("EXPLAIN " + sql, params).fetchall()
                self.plans.append("\n".join(row[0] for row in rows))
            return self.db.execute(sql, params)


def test_a_rare_word_is_looked_up_in_the_gin_indexes(store: Store) -> None:
    # Many articles without the word, of a news article's size (a table of some thousand
    # pages, which a plan reads whole unless it uses an index), vectors included.
    store._db.execute("""
        INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched,
            language, title_original, text_original, title_translated, text_translated, lead,
            model, story_id, search_exact, search_stems)
        SELECT 1, 'k' || g, 'u' || g, 'c' || g, '2026-11-01 00:00:00', '2026-11-01 00:00:00',
            'ar', '', '', 'Oil report ' || g, repeat('Prices rose. ', 100), '', 'm', NULL,
            setweight(to_tsvector('simple', 'oil report ' || g), 'A')
                || setweight(to_tsvector('simple', 'prices rose'), 'C'),
            setweight(to_tsvector('simple', 'oil report ' || g), 'A')
                || setweight(to_tsvector('simple', 'price rose'), 'C')
        FROM generate_series(1, 5000) AS g""", {})
    store._db.execute("ANALYZE articles", {})
    explaining = _Explaining(store.read_connection())
    reader = PostgresSearchReader(explaining)  # type: ignore[arg-type]
    for query in (Query(words=("central",), excluded=(("football",),)),
                  Query(phrases=(("central", "bank"),), excluded=(("oil", "report"),))):
        assert reader.search_exists(query, SearchScope())
        found = reader.search_ranked(query, SearchScope(), limit=5, now=NOW)
        assert [m.article_id for m in found] == [1]
    assert len(explaining.plans) == 4
    for plan in explaining.plans:
        assert "Seq Scan" not in plan and "Index Scan using" not in plan, plan
    words, phrases = explaining.plans[:2], explaining.plans[2:]
    assert all("Bitmap Index Scan on articles_search_stems" in plan for plan in words)
    assert all("Bitmap Index Scan on articles_search_exact" in plan for plan in phrases)
