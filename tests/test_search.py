"""Search: stems in both languages, exact forms first, the query language's filters, one
result per story, ranking with recency, paging, snippets — on a real SQLite file and on a
PostgreSQL database (every test runs on both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_store import FEEDS, NOW, make_article

from bot.config import FeedConfig
from bot.search import Archive, SearchPage, search
from bot.store import Store
from bot.store import search as store_search
from bot.telegram.searching import snippet_html


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    location = (request.getfixturevalue("postgres_url") if request.param == "postgresql"
                else tmp_path / "n.db")
    with Store(location) as db:
        feed = db.sync_feeds(FEEDS, NOW)[0]
        db.add_articles([
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
        yield db


@pytest.fixture
def archive(store: Store) -> Archive:
    return store.reader()


def ids(page: SearchPage) -> list[int]:
    return [hit.article.id for hit in page.hits]


def add(store: Store, n: int, feed: int = 1, **changes: object) -> int:
    [article_id] = store.insert_articles([make_article(feed, n, **changes)])
    return article_id


@pytest.mark.parametrize("hostile", [
    '"', 'AND OR NOT', "bank*", "(bank", "bank)", "NEAR(bank rates)", "'; DROP TABLE articles;--",
    "title_en:bank", "{title_stems}: bank", "^bank", "{bank}", "-bank", "bank + rates", "\x00",
    "؟؟", "source:", 'source:"%_\\', "since:yesterday", '-"', "bank -", "-(bank)",
])
def test_hostile_input_never_raises(store: Store, archive: Archive, hostile: str) -> None:
    page = search(archive, hostile, now=NOW)
    assert isinstance(page.hits, list)
    assert store.count_articles() == 3


def test_operator_words_are_matched_as_words(store: Store, archive: Archive) -> None:
    add(store, 4, title_translated="Talks on Gaza and Lebanon", text_translated="Or not.")
    assert ids(search(archive, "gaza AND lebanon", now=NOW)) == [4]
    assert ids(search(archive, "NEAR", now=NOW)) == []


def test_english_stems_find_other_forms_and_exact_forms_rank_first(
        store: Store, archive: Archive) -> None:
    stemmed = add(store, 5, title_translated="Parliament vote",
                  text_translated="Voters elected a new parliament; turnout was high.")
    exact = add(store, 6, title_translated="Parliament vote",
                text_translated="The election of a new parliament; turnout was high.")
    plural = add(store, 7, title_translated="Parliament vote",
                 text_translated="After the elections a new parliament met.")
    page = search(archive, "election", now=NOW)
    assert ids(page)[0] == exact  # the form searched for ranks above other forms
    assert set(ids(page)) == {stemmed, exact, plural}
    assert ids(search(archive, '"election"', now=NOW)) == [exact]  # quoted: that form only


@pytest.mark.parametrize("query", ["الحكومة", "حكومة", "حكومات", "والحكومة"])
def test_arabic_stems_and_clitics(store: Store, archive: Archive, query: str) -> None:
    with_article = add(store, 8, title_original="بيان رسمي",
                       text_original="قالت والحكومة إن المحادثات مستمرة")
    with_preposition = add(store, 9, title_original="قروض جديدة",
                           text_original="قدم البنك قروضا للحكومات العربية")
    bare_clitic = add(store, 10, title_original="وحكومة الوحدة تجتمع",
                      text_original="اجتماع في العاصمة")
    assert set(ids(search(archive, query, now=NOW))) == {
        with_article, with_preposition, bare_clitic}, query


@pytest.mark.parametrize("query", ["البنك المركزي", "البنكُ المركزيُّ", "ألبنك", "المركزى"])
def test_arabic_with_or_without_diacritics(archive: Archive, query: str) -> None:
    page = search(archive, query, now=NOW)
    assert page.hits, query
    assert page.hits[0].article.title_original.startswith(("البنكُ", "المصرف"))


def test_phrases_exclusions_sources_and_dates(store: Store, archive: Archive) -> None:
    store.sync_feeds([*FEEDS, FeedConfig("https://www.bbc.com/arabic/rss.xml", "BBC Arabic")],
                     NOW)
    bbc = next(f.id for f in store.feeds() if f.name == "BBC Arabic")
    reordered = add(store, 11, title_translated="Rates: the bank is central to the plan")
    old_bbc = add(store, 12, feed=bbc, title_translated="Central bank cuts rates",
                  published=NOW - timedelta(days=30))
    assert ids(search(archive, '"central bank" rates', now=NOW)) == [1, 2, old_bbc]
    assert reordered in ids(search(archive, "central bank rates", now=NOW))
    assert set(ids(search(archive, "central bank -raises", now=NOW))) == {2, old_bbc, reordered}
    assert set(ids(search(archive, 'bank -"interest rates"', now=NOW))) == {
        2, old_bbc, reordered}
    for source in ("source:bbc", "source:BBC.com", 'source:"bbc arabic"', "مصدر:bbc"):
        assert ids(search(archive, f"bank {source}", now=NOW)) == [old_bbc], source
    unknown = search(archive, "bank source:reuters", now=NOW)
    assert unknown.hits == [] and unknown.unknown_sources == ("reuters",)
    assert old_bbc not in ids(search(archive, "bank since:7d", now=NOW))
    day = (NOW - timedelta(days=30)).date().isoformat()
    assert ids(search(archive, f"bank since:{day} until:{day}", now=NOW)) == [old_bbc]


def test_one_result_per_story_with_its_outlets(store: Store, archive: Archive) -> None:
    store.sync_feeds([*FEEDS, FeedConfig("https://b.example/rss", "Outlet B")], NOW)
    other = store.feeds()[-1].id
    copy = add(store, 13, feed=other, title_translated="Central bank raises rates again")
    store._db.execute("UPDATE articles SET story_id = 1 WHERE id = :id", {"id": copy})
    page = search(archive, "central bank", now=NOW)
    stories = [hit.article.story_id for hit in page.hits]
    assert sorted(stories) == [1, 2]  # two stories, three articles
    assert next(h for h in page.hits if h.article.story_id == 1).outlets == 2


def test_any_word_fallback_when_no_story_has_all(archive: Archive) -> None:
    page = search(archive, "Cairo inflation", now=NOW)
    assert not page.matched_all_terms
    assert len(page.hits) == 2


def test_paging_and_empty_queries(archive: Archive) -> None:
    first = search(archive, "bank", limit=1, now=NOW)
    second = search(archive, "bank", limit=1, offset=1, now=NOW)
    assert first.has_more and not second.has_more
    assert ids(first) != ids(second)
    assert search(archive, "  ?! ", now=NOW).hits == []
    assert search(archive, "source:bbc since:7d", now=NOW).hits == []  # filters alone


def test_recency_boost_orders_equal_matches(archive: Archive) -> None:
    page = search(archive, "rates", now=NOW + timedelta(days=1))
    assert page.hits[0].article.title_translated.startswith("Central bank raises")


def test_snippets_show_the_original_spelling_and_mark_matches(archive: Archive) -> None:
    [hit] = search(archive, "يرفع المركزي", now=NOW).hits
    marked = [s.text for s in hit.snippet if s.match]
    assert "المركزيُّ" in marked  # diacritics as published, not the folded index form
    english = search(archive, "inflation", now=NOW).hits[0]
    assert snippet_html(english.snippet).count("<b>inflation</b>") == 1


def test_pages_rank_ids_then_read_only_the_page(store: Store, archive: Archive) -> None:
    feed = store.feeds()[0]
    store.add_articles([make_article(feed.id, n, title_translated=f"Oil report {n}")
                        for n in range(10, 40)])
    everything = search(archive, "report", limit=40, now=NOW)
    assert len(everything.hits) == 30 and not everything.has_more
    assert [h.score for h in everything.hits] == sorted(h.score for h in everything.hits)
    paged = [hit for offset in range(0, 30, 7)
             for hit in search(archive, "report", limit=7, offset=offset, now=NOW).hits]
    assert paged == everything.hits


PRIVATE_USE = "\ue000\ue001"


def test_private_use_characters_in_feed_text_cannot_break_the_markup(
        store: Store, archive: Archive) -> None:
    add(store, 4, title_translated=f"Forged {PRIVATE_USE} wheat harvest",
        text_translated=f"The wheat {PRIVATE_USE}crop{PRIVATE_USE} was <b>large</b>.",
        title_original=f"حصاد {PRIVATE_USE} القمح", text_original=f"محصول {PRIVATE_USE}القمح")
    for query in ("wheat", "القمح"):
        [hit] = search(archive, query, now=NOW).hits
        html = snippet_html(hit.snippet)
        assert PRIVATE_USE[0] not in html and PRIVATE_USE[1] not in html
        assert html.count("<b>") == html.count("</b>") == sum(s.match for s in hit.snippet)
        assert "<b>large</b>" not in html


def test_a_common_word_is_ranked_among_its_newest_matches(
        store: Store, archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """More matches than the window: the newest window, titles first, then by recency."""
    monkeypatch.setattr(store_search, "SEARCH_WINDOW", 10)
    feed = store.feeds()[0]
    new = store.insert_articles([
        make_article(feed.id, n, title_translated=f"Oil report {n}" if n % 2 else "Markets",
                     published=NOW - timedelta(hours=40 - n)) for n in range(10, 40)])
    page = search(archive, "oil", limit=40, now=NOW)
    newest = new[:-11:-1]   # newest first, from n = 39: odd n have oil in the title too
    assert ids(page) == newest[::2] + newest[1::2]
    assert not page.has_more
    last = search(archive, "oil", limit=5, offset=5, now=NOW)
    assert last.hits == page.hits[5:] and not last.has_more
    assert search(archive, "oil", limit=5, offset=10, now=NOW).hits == []
    # Fewer matches than the window: all of them, by relevance and recency.
    assert ids(search(archive, "central bank", now=NOW)) == [1, 2]


def test_rows_without_a_story_are_each_their_own_result(
        store: Store, archive: Archive) -> None:
    """Rows another SQLite client wrote have no story yet: each is its own story."""
    first, second = add(store, 14, title_translated="Airport reopens"), add(
        store, 15, title_translated="Airport closes")
    store._db.execute("UPDATE articles SET story_id = NULL WHERE id IN (:a, :b)",
                      {"a": first, "b": second})
    assert sorted(ids(search(archive, "airport", now=NOW))) == [first, second]


def test_a_quoted_exclusion_leaves_out_that_form_and_a_bare_one_every_form(
        store: Store, archive: Archive) -> None:
    singular = add(store, 16, title_translated="Vote", text_translated="The election is near.")
    plural = add(store, 17, title_translated="Vote", text_translated="The elections are near.")
    assert ids(search(archive, 'vote -"election"', now=NOW)) == [plural]
    assert ids(search(archive, "vote -election", now=NOW)) == []
    assert set(ids(search(archive, "vote", now=NOW))) == {singular, plural}


def test_date_filters_find_articles_fetched_long_after_they_were_published(
        store: Store, archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids follow fetch times, not publication times: the ids a date filter walks are
    bounded by what the published index says, read exactly when the dates hold few articles
    and left open above when they hold more (DATE_SCAN)."""
    old = add(store, 19, title_translated="Bank history", published=NOW - timedelta(days=50))
    recent = [add(store, n, title_translated="Bank news", published=NOW - timedelta(days=n))
              for n in (20, 21, 22)]
    late = add(store, 23, title_translated="Bank archive", published=NOW - timedelta(days=60))
    day = (NOW - timedelta(days=60)).date().isoformat()
    before = (NOW - timedelta(days=40)).date().isoformat()
    for scan in (5000, 1):
        monkeypatch.setattr(store_search, "DATE_SCAN", scan)
        assert ids(search(archive, f"bank since:{day} until:{day}", now=NOW)) == [late], scan
        assert set(ids(search(archive, f"bank until:{before}", now=NOW))) == {old, late}, scan
        assert set(ids(search(archive, "bank since:30d", limit=10, now=NOW))) >= set(recent)
        assert late not in ids(search(archive, "bank since:30d", limit=10, now=NOW))
        assert search(archive, "bank since:2020-01-01 until:2020-01-02", now=NOW).hits == []


def test_common_words_stay_ranked_as_common_words_under_filters(
        store: Store, archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word with more matches than the window is ranked by recency (titles first) even when
    a source filter or an exclusion leaves fewer; a rarer word is ranked by relevance."""
    monkeypatch.setattr(store_search, "SEARCH_WINDOW", 10)
    store.sync_feeds([*FEEDS, FeedConfig("https://farm.example/rss", "Farm Weekly")], NOW)
    farm = next(f.id for f in store.feeds() if f.name == "Farm Weekly")
    for n in range(30, 45):   # wheat in many articles of the first source
        add(store, n, title_translated="Markets", lead="Markets.",
            text_translated="Wheat was traded.", published=NOW - timedelta(hours=n))
    often = add(store, 50, feed=farm, title_translated="Grain", lead="Grain.",
                text_translated="Wheat, wheat, wheat and wheat again; barley barley barley.",
                published=NOW - timedelta(days=3))
    once = add(store, 51, feed=farm, title_translated="Harvest", lead="Harvest.",
               text_translated="Some wheat, and barley.", published=NOW - timedelta(hours=1))
    assert ids(search(archive, "wheat source:farm", now=NOW)) == [once, often]
    assert ids(search(archive, "wheat -traded", now=NOW)) == [once, often]
    # barley is in two articles only: bm25 puts the one saying it three times first.
    assert ids(search(archive, "barley source:farm", now=NOW)) == [often, once]
    assert ids(search(archive, "barley", now=NOW)) == [often, once]


def test_exact_forms_next_to_punctuation(store: Store, archive: Archive) -> None:
    """Arabic and typographic punctuation is no part of a word, quoted or not (PostgreSQL's
    parser, in a C-locale cluster, would read "الحكومة،" as one word: the store splits the
    exact fields as queries are split)."""
    arabic = add(store, 24, title_original="بيان رسمي",
                 text_original="قالت الحكومة، إن «المحادثات» مستمرة؟")
    english = add(store, 25, title_translated="Statement",
                  text_translated="“Talks,” said the minister’s office—again.")
    assert ids(search(archive, '"الحكومة"', now=NOW)) == [arabic]
    assert ids(search(archive, '"المحادثات مستمرة"', now=NOW)) == [arabic]
    assert ids(search(archive, '"talks"', now=NOW)) == [english]
    assert ids(search(archive, '"minister"', now=NOW)) == [english]
    assert ids(search(archive, '"office again"', now=NOW)) == [english]


def test_function_words_and_partial_phrases(store: Store, archive: Archive) -> None:
    """Function words have no stems and are matched as written; a phrase in a partial match
    still needs its words in order."""
    assert len(search(archive, "the", now=NOW).hits) == 3
    assert ids(search(archive, "the stadium", now=NOW)) == [3]
    assert ids(search(archive, "في كرة", now=NOW)) == [3]
    partial = search(archive, '"central bank" stadium', now=NOW)
    assert not partial.matched_all_terms and set(ids(partial)) == {1, 2, 3}
    reordered = search(archive, '"bank central" stadium', now=NOW)
    assert not reordered.matched_all_terms and ids(reordered) == [3]
