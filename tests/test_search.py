"""Search: escaping, Arabic folding, ranking with recency, snippets and paging."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from test_store import FEEDS, NOW, make_article

from bot.search import arabic_snippet, parse_query, search
from bot.store import Store
from bot.store import search as store_search
from bot.store.base import HIGHLIGHT_END, HIGHLIGHT_START
from bot.telegram.handlers import snippet_html


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


def test_the_reader_finds_what_the_store_finds(archive: Store) -> None:
    for query in ["central bank", "Cairo inflation", "المركزي", "rates"]:
        direct = search(archive, query, limit=1, now=NOW)
        assert search(archive.reader(), query, limit=1, now=NOW) == direct


def test_pages_rank_ids_then_read_only_the_page(archive: Store) -> None:
    feed = archive.feeds()[0]
    archive.add_articles([make_article(feed.id, n, title_translated=f"Oil report {n}")
                          for n in range(10, 40)])
    everything = search(archive, "oil", limit=40, now=NOW)
    assert len(everything.hits) == 30 and not everything.has_more
    ranked = archive.search_ranked('"oil"', limit=40, now=NOW)
    assert [(h.article.id, h.score) for h in everything.hits] == ranked
    assert [h.score for h in everything.hits] == sorted(h.score for h in everything.hits)
    paged = [hit for offset in range(0, 30, 7)
             for hit in search(archive, "oil", limit=7, offset=offset, now=NOW).hits]
    assert paged == everything.hits
    assert archive.search_hits('"oil"', list(reversed(ranked[:3]))) == everything.hits[2::-1]


FORGED = f"{HIGHLIGHT_END}x{HIGHLIGHT_START}{HIGHLIGHT_START}"


def test_markers_in_feed_text_cannot_unbalance_the_highlights(archive: Store) -> None:
    feed = archive.feeds()[0]
    archive.add_articles([make_article(
        feed.id, 4, title_translated=f"Forged {FORGED} wheat harvest",
        text_translated=f"The wheat {HIGHLIGHT_END}crop{HIGHLIGHT_START} was large.",
        title_original=f"حصاد {FORGED} القمح", text_original=f"محصول {FORGED}القمح كبير")])
    for query, word in [("wheat", "wheat"), ("القمح", "القمح")]:
        [hit] = search(archive, query, now=NOW).hits
        marked = hit.snippet.replace(f"{HIGHLIGHT_START}{word}{HIGHLIGHT_END}", "")
        assert word in hit.snippet and HIGHLIGHT_START not in marked, hit.snippet
        assert HIGHLIGHT_END not in marked and "xx" not in marked
        html = snippet_html(hit.snippet)
        assert html.count("<b>") == html.count("</b>") == hit.snippet.count(HIGHLIGHT_START)


@pytest.mark.parametrize("snippet", [
    f"a {HIGHLIGHT_END}b", f"{HIGHLIGHT_START}a {HIGHLIGHT_START}b", FORGED, f"{HIGHLIGHT_START}",
    f"{HIGHLIGHT_START}<i>{HIGHLIGHT_END}{HIGHLIGHT_END} &",
])
def test_snippet_html_is_always_balanced(snippet: str) -> None:
    html = snippet_html(snippet)
    assert HIGHLIGHT_START not in html and HIGHLIGHT_END not in html
    depth = 0
    for tag in re.findall(r"</?b>", html):
        depth += 1 if tag == "<b>" else -1
        assert depth in (0, 1), html
    assert depth == 0 and "<i>" not in html


def test_a_common_word_is_ranked_among_its_newest_matches(
        archive: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """More matches than the window: the newest window, titles first, then by recency."""
    monkeypatch.setattr(store_search, "SEARCH_WINDOW", 10)
    feed = archive.feeds()[0]
    ids = archive.insert_articles([
        make_article(feed.id, n, title_translated=f"Oil report {n}" if n % 2 else "Markets",
                     published=NOW - timedelta(hours=40 - n)) for n in range(10, 40)])
    page = search(archive, "oil", limit=40, now=NOW)
    newest = ids[:-11:-1]   # newest first, from n = 39: odd n have oil in the title too
    assert [h.article.id for h in page.hits] == newest[::2] + newest[1::2]
    assert not page.has_more
    assert [h.score for h in page.hits] == sorted(h.score for h in page.hits)
    assert archive.search_ranked('"oil"', limit=40, now=NOW) == [
        (h.article.id, h.score) for h in page.hits]
    last = search(archive, "oil", limit=5, offset=5, now=NOW)
    assert last.hits == page.hits[5:] and not last.has_more
    assert search(archive, "oil", limit=5, offset=10, now=NOW).hits == []
    # Fewer matches than the window: all of them, by relevance and recency as before.
    assert [h.article.id for h in search(archive, "central bank", now=NOW).hits] == [1, 2]


def test_arabic_snippet_finds_late_matches_and_survives_ligatures() -> None:
    filler = " ".join(f"كلمة{n}" for n in range(100))
    snippet = arabic_snippet(f"{filler} قال البنكُ المركزيُّ اليوم", {"المركزي"})
    assert snippet is not None and snippet.startswith("…")
    assert f"{HIGHLIGHT_START}المركزيُّ{HIGHLIGHT_END}" in snippet
    # U+FDFA folds to four words: the tokens are then folded one by one.
    snippet = arabic_snippet("النبي \ufdfa قال إن المركزيَّ", {"المركزي"})
    assert snippet == f"النبي \ufdfa قال إن {HIGHLIGHT_START}المركزيَّ{HIGHLIGHT_END}"
    assert arabic_snippet("لا شيء هنا", {"المركزي"}) is None
    assert arabic_snippet("لا شيء هنا", set()) is None
