"""The search query language: words, phrases, exclusions, source/since/until, limits, echo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.query import MAX_QUERY_CHARS, MAX_TERMS, Query, parse_query, query_help

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def parse(text: str) -> Query:
    return parse_query(text, NOW)


# --- words, phrases, exclusions ---------------------------------------------------------------


def test_arabic_query_with_every_kind_of_term() -> None:
    query = parse('البنك المركزي "أسعار الفائدة" -كرة source:bbc since:7d')
    assert query.words == ("البنك", "المركزي")
    # Folded like the index: hamza on alef dropped, ta marbuta as ha.
    assert query.phrases == (("اسعار", "الفائده"),)
    assert query.excluded == (("كره",),)
    assert query.sources == ("bbc",)
    assert query.since == datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    assert query.until is None
    assert query.problems == ()
    assert not query.empty


def test_english_query_with_every_kind_of_term() -> None:
    query = parse('Central BANK "interest rates" -football -"transfer news" until:2026-11-20')
    assert query.words == ("central", "bank")
    assert query.phrases == (("interest", "rates"),)
    assert query.excluded == (("football",), ("transfer", "news"))
    assert query.until == datetime(2026, 11, 21, tzinfo=UTC)
    assert query.since is None and query.sources == ()


def test_quoted_single_word_is_an_exact_word_not_a_phrase() -> None:
    query = parse('"elections" "الانتخابات" turnout')
    assert query.exact_words == ("elections", "الانتخابات")
    assert query.words == ("turnout",)
    assert query.phrases == ()


def test_hyphen_inside_a_word_is_not_an_exclusion() -> None:
    query = parse("al-Assad COVID-19 vaccine")
    assert query.excluded == ()
    # Kept as written: the tokens must appear together.
    assert query.phrases == (("al", "assad"), ("covid", "19"))
    assert query.words == ("vaccine",)


def test_leading_hyphen_excludes_a_hyphenated_word_or_an_arabic_phrase() -> None:
    query = parse('سوريا -al-Assad -"كرة القدم"')
    assert query.words == ("سوريا",)
    assert query.excluded == (("al", "assad"), ("كره", "القدم"))


def test_unclosed_quote_takes_the_rest_of_the_text() -> None:
    query = parse('inflation "central bank -rates source:bbc')
    assert query.words == ("inflation",)
    assert query.phrases == (("central", "bank", "rates", "source", "bbc"),)
    assert query.excluded == () and query.sources == ()
    assert parse("التضخم «البنك المركزي").phrases == (("البنك", "المركزي"),)


@pytest.mark.parametrize("text", [
    "“interest rates” gaza",
    "”interest rates“ gaza",  # as right-to-left keyboards often leave them
    "«interest rates» gaza",
    '"interest rates" gaza',
])
def test_typographic_quotes_and_guillemets_make_phrases(text: str) -> None:
    query = parse(text)
    assert query.phrases == (("interest", "rates"),)
    assert query.words == ("gaza",)


def test_arabic_guillemets_and_curly_quotes() -> None:
    query = parse("«وقف إطلاق النار» “قطاع غزة” -«كرة القدم»")
    assert query.phrases == (("وقف", "اطلاق", "النار"), ("قطاع", "غزه"))
    assert query.excluded == (("كره", "القدم"),)


def test_a_quote_glued_to_a_word_starts_a_phrase() -> None:
    query = parse('inflation"interest rates"')
    assert query.words == ("inflation",)
    assert query.phrases == (("interest", "rates"),)


def test_terms_without_tokens_are_dropped_silently() -> None:
    query = parse('"..." -!! - «» bank ؟')
    assert query.words == ("bank",)
    assert query.phrases == query.excluded == ()
    assert query.exact_words == ()
    assert query.problems == ()


def test_words_are_folded_like_the_index() -> None:
    query = parse("الحُكُومَة إعـــلان ٢٠٢٦")
    assert query.words == ("الحكومه", "اعلان", "2026")


def test_url_and_time_like_text_is_ordinary_text() -> None:
    query = parse("https://example.com 10:30 note:budget")
    assert query.phrases == (("https", "example", "com"), ("10", "30"), ("note", "budget"))
    assert query.sources == () and query.since is None and query.problems == ()


def test_duplicates_removed_in_order() -> None:
    query = parse('gaza truce Gaza GAZA "aid trucks" "Aid  Trucks" -war -WAR غزة غزه source:bbc'
                  " source:BBC")
    assert query.words == ("gaza", "truce", "غزه")
    assert query.phrases == (("aid", "trucks"),)
    assert query.excluded == (("war",),)
    assert query.sources == ("bbc",)


# --- source: since: until: -----------------------------------------------------------------


def test_operator_names_are_case_insensitive() -> None:
    query = parse("gaza Source:BBC SINCE:7D UnTiL:2026-11-20")
    assert query.words == ("gaza",)
    assert query.sources == ("bbc",)
    assert query.since == NOW - timedelta(days=7)
    assert query.until == datetime(2026, 11, 21, tzinfo=UTC)


def test_arabic_operator_aliases() -> None:
    query = parse("الانتخابات مصدر:الجزيرة منذ:3d حتى:2026-11-20")
    assert query.words == ("الانتخابات",)
    assert query.sources == ("الجزيرة",)
    assert query.since == NOW - timedelta(days=3)
    assert query.until == datetime(2026, 11, 21, tzinfo=UTC)
    # Folded like any Arabic word: حتى written with a dotted ya still counts.
    assert parse("غزة حتي:2026-11-20").until == datetime(2026, 11, 21, tzinfo=UTC)


def test_quoted_source_values_and_several_sources() -> None:
    query = parse('source:"BBC Arabic" مصدر:«سكاي نيوز» source:aljazeera.net economy')
    assert query.sources == ("bbc arabic", "سكاي نيوز", "aljazeera.net")
    assert query.words == ("economy",)


@pytest.mark.parametrize(("value", "age"), [
    ("24h", timedelta(hours=24)),
    ("6H", timedelta(hours=6)),
    ("7d", timedelta(days=7)),
    ("٧d", timedelta(days=7)),  # Arabic-Indic digits
    ("2w", timedelta(weeks=2)),
])
def test_relative_ages_count_back_from_now(value: str, age: timedelta) -> None:
    assert parse(f"gaza since:{value}").since == NOW - age
    assert parse(f"gaza until:{value}").until == NOW - age


def test_dates_since_start_of_day_until_end_of_day_exclusive() -> None:
    query = parse("budget since:2026-11-01 until:2026-11-20")
    assert query.since == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert query.until == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert query.since.tzinfo is UTC and query.until.tzinfo is UTC
    assert parse("منذ:٢٠٢٦-١١-٠١ غزة").since == datetime(2026, 11, 1, tzinfo=UTC)


def test_date_with_a_time_is_that_instant() -> None:
    query = parse("budget since:2026-11-01T14:00 until:2026-11-20t09:30")
    assert query.since == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert query.until == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_several_dates_all_apply_so_the_narrowest_wins() -> None:
    query = parse("gaza since:2026-11-01 since:7d until:2026-11-25 until:2026-11-30")
    assert query.since == NOW - timedelta(days=7)
    assert query.until == datetime(2026, 11, 26, tzinfo=UTC)


@pytest.mark.parametrize(("term", "problem"), [
    ("since:yesterday", '"since:yesterday" is not a date or an age like 7d.'),
    ("since:2026-13-45", '"since:2026-13-45" is not a date or an age like 7d.'),
    ("until:", '"until:" needs a date or an age like 7d.'),
    ("منذ:أمس", '"منذ:أمس" is not a date or an age like 7d.'),
    ("since:3m", '"since:3m" is not a date or an age like 7d.'),  # minutes or months? neither
    ("since:0d", '"since:0d" is not a date or an age like 7d.'),
    ("until:9999-12-31", '"until:9999-12-31" is not a date or an age like 7d.'),
    ("source:", '"source:" needs a source name, like source:bbc.'),
    ("-source:bbc", '"-source:bbc": only words and phrases can be excluded.'),
])
def test_invalid_values_are_reported_and_the_rest_still_parses(term: str, problem: str) -> None:
    query = parse(f"central bank {term} -football since:2w")
    assert query.problems == (problem,)
    assert query.words == ("central", "bank")
    assert query.excluded == (("football",),)
    assert query.since == NOW - timedelta(weeks=2)
    assert query.until is None and query.sources == ()


def test_since_not_before_until_is_reported() -> None:
    query = parse("gaza since:2026-11-20 until:2026-11-01")
    assert query.problems == (
        "The since: date is not before the until: date, so nothing can match.",)
    assert query.since is not None and query.until is not None  # kept: the reader sees why


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_query("gaza", datetime(2026, 11, 26, 12, 0))


# --- limits and emptiness ---------------------------------------------------------------------


def test_long_input_is_cut_to_the_limit_and_reported() -> None:
    text = "gaza " + "x" * (MAX_QUERY_CHARS - len("gaza ") - 3) + " truce ceasefire"
    query = parse(text)
    # "truce" starts at character 198: only "tr" fits.
    assert query.words == ("gaza", "x" * (MAX_QUERY_CHARS - 8), "tr")
    assert query.problems == (f"Only the first {MAX_QUERY_CHARS} characters were searched.",)


def test_exactly_the_limit_is_not_cut() -> None:
    text = "a" * (MAX_QUERY_CHARS - 2) + " b"
    assert parse(text).problems == ()
    assert parse(text).words[-1] == "b"


def test_at_most_max_terms_words_phrases_and_exclusions() -> None:
    first = [f"word{chr(ord('a') + n)}" for n in range(MAX_TERMS - 2)]
    query = parse(" ".join(first) + ' "interest rates" -football dropped -"also dropped"')
    assert query.words == tuple(first)
    assert query.phrases == (("interest", "rates"),)
    assert query.excluded == (("football",),)
    assert query.problems == (f"Only the first {MAX_TERMS} search terms were used.",)


def test_duplicates_do_not_count_towards_the_term_limit() -> None:
    names = [f"word{chr(ord('a') + n)}" for n in range(MAX_TERMS)]
    query = parse(" ".join(f"{name} {name.upper()}" for name in names) + " source:bbc since:7d")
    assert len(query.words) == MAX_TERMS
    assert query.problems == ()
    assert query.sources == ("bbc",)


@pytest.mark.parametrize("text", [
    "source:bbc since:7d",
    "مصدر:bbc حتى:2026-11-20",
    "-football -\"كرة القدم\"",
    '"..." !!',
    "",
])
def test_filters_and_exclusions_alone_are_empty(text: str) -> None:
    assert parse(text).empty


@pytest.mark.parametrize("text", ["gaza", '"elections"', '"interest rates" -football'])
def test_any_positive_term_is_a_search(text: str) -> None:
    assert not parse(text).empty


# --- describe and help ------------------------------------------------------------------------


def test_describe_echoes_the_query() -> None:
    query = parse('central bank "interest rates" -football source:BBC since:2026-11-01')
    assert query.describe() == (
        'central bank · "interest rates" · not football · source: bbc · since 2026-11-01')


def test_describe_shows_exact_words_excluded_phrases_sources_and_day_bounds() -> None:
    query = parse('"elections" -"transfer news" source:bbc source:"sky news"'
                  " until:2026-11-20")
    assert query.describe() == ('"elections" · not "transfer news" · source: bbc or sky news'
                                " · until 2026-11-20")


def test_describe_shows_instants_in_utc() -> None:
    query = parse("الانتخابات since:7d until:24h")
    assert query.describe() == (
        "الانتخابات · since 2026-11-19 12:00 UTC · before 2026-11-25 12:00 UTC")


def test_describe_of_nothing_is_empty() -> None:
    assert parse("").describe() == ""


def test_help_mentions_every_operator_and_example() -> None:
    text = query_help()
    for needle in ('"interest rates"', "-football", "source:bbc", "since:7d", "since:2026-11-01",
                   "until:2026-11-20", "مصدر:", "منذ:", "حتى:", "partial", "elections",
                   "والحكومة", "للحكومات", "Arabic originals", "translations",
                   "/search central bank", '/search "interest rates" -football',
                   "/search الانتخابات source:bbc since:7d"):
        assert needle in text, needle
    assert 10 <= len(text.splitlines()) <= 15
    assert "<" not in text and "*" not in text  # plain text, no markup


def test_a_quoted_excluded_word_leaves_out_that_form_only() -> None:
    query = parse('elections -"election" -"الحكومة" -vote')
    assert query.excluded_exact == ("election", "الحكومه")
    assert query.excluded == (("vote",),)
    assert 'not "election"' in query.describe()
