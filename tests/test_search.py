"""Search: escaping, Arabic folding, ranking with recency, snippets and paging."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_store import FEEDS, NOW, make_article

from bot.search import parse_query, search
from bot.store import Store
from bot.store.sqlite import HIGHLIGHT_END, HIGHLIGHT_START


@pytest.fixture
def archive(tmp_path: Path) -> Store:
    store = Store(tmp_path / "n.db")
    feed = store.sync_feeds(FEEDS, NOW)[0]
    store.add_articles([
        make_article(feed.id, 1, title_translated="Central bank raises interest rates",
                     text_translated="The central bank raised rates to fight inflation.",
                     title_original="البنكُ المركزيُّ يرفع أسعار الفائدة"),
        make_article(feed.id, 200, title_translated="Central bank holds rates",
                     text_translated="An older decision by the central bank.",
                     title_original="المصرف المركزي يثبّت الفائدة"),
        make_article(feed.id, 3, title_translated="Football final in Cairo",
                     text_translated="Fans gathered at the stadium in Cairo.",
                     title_original="نهائي كرة القدم في القاهرة"),
    ])
    return store


@pytest.mark.parametrize("hostile", [
    '"', 'AND OR NOT', "bank*", "(bank", "bank)", "NEAR(bank rates)", "'; DROP TABLE articles;--",
    "title_translated:bank", "^bank", "{bank}", "-bank", "bank + rates", "\x00", "؟؟",
])
def test_hostile_input_never_raises(archive: Store, hostile: str) -> None:
    page = search(archive, hostile, now=NOW)
    assert isinstance(page.hits, list)
    assert archive.count_articles() == 3


def test_operator_words_are_matched_as_words(archive: Store) -> None:
    assert parse_query("bank AND rates").match_all() == '"bank" "and" "rates"'
    assert parse_query('"central bank" rates').terms == (("central", "bank"), ("rates",))


def test_english_words_rank_by_relevance_and_recency(archive: Store) -> None:
    page = search(archive, "central bank", now=NOW)
    titles = [h.article.title_translated for h in page.hits]
    assert titles[0] == "Central bank raises interest rates"  # newer of two equal matches
    assert "Football final in Cairo" not in titles
    snippet = page.hits[0].snippet
    assert f"{HIGHLIGHT_START}bank{HIGHLIGHT_END}".lower() in snippet.lower()


@pytest.mark.parametrize("query", ["البنك المركزي", "البنكُ المركزيُّ", "ألبنك", "المركزى"])
def test_arabic_with_or_without_diacritics(archive: Store, query: str) -> None:
    page = search(archive, query, now=NOW)
    assert page.hits, query
    assert page.hits[0].article.title_original.startswith(("البنكُ", "المصرف"))


def test_any_word_fallback_when_no_article_has_all(archive: Store) -> None:
    page = search(archive, "Cairo inflation", now=NOW)
    assert not page.matched_all_terms
    assert len(page.hits) == 2


def test_paging(archive: Store) -> None:
    first = search(archive, "bank", limit=1, now=NOW)
    second = search(archive, "bank", limit=1, offset=1, now=NOW)
    assert first.has_more and not second.has_more
    assert first.hits[0].article.id != second.hits[0].article.id


def test_empty_query(archive: Store) -> None:
    assert search(archive, "  ?! ", now=NOW).hits == []


def test_recency_boost_orders_equal_matches(archive: Store) -> None:
    page = search(archive, "rates", now=NOW + timedelta(days=1))
    assert page.hits[0].article.title_translated.startswith("Central bank raises")


def test_arabic_snippet_shows_original_spelling(archive: Store) -> None:
    page = search(archive, "المركزي", now=NOW)
    snippet = page.hits[0].snippet
    assert f"{HIGHLIGHT_START}المركزيُّ{HIGHLIGHT_END}" in snippet
    assert "البنكُ" in snippet  # diacritics as published, not the folded index form
