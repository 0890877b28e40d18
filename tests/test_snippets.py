"""Search snippets: matching by form, stem, phrase and clitic; the window; safe segments."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from bot.analysis import words
from bot.snippets import Segment, Snippet, make_snippet, snippet_text

EN = ("The electoral commission said on Monday that the elections held across the country "
      "were free and fair. Voters elected a new parliament, and the elected members will meet "
      "in the capital in March to choose a prime minister.")
AR = ("أعلنت الحكـــومةُ المصرية يوم الأحد خطةً جديدة لدعم الاقتصاد، وقال وزير المالية إن "
      "البرلمان والحكومة اتفقا على تقديم منح للحكومات المحلية في المحافظات الأكثر فقراً "
      "خلال عام ٢٠٢٤.")
FILLER = ("Officials from several ministries met in the capital on Tuesday to discuss the "
          "budget, the port project and the new rail link to the border. ")


def marked(snippet: Snippet) -> list[str]:
    return [segment.text for segment in snippet if segment.match]


def assert_well_formed(snippet: Snippet) -> None:
    assert snippet, "expected a snippet"
    assert all(segment.text for segment in snippet)
    assert all(a.match != b.match for a, b in pairwise(snippet))


def snippet(texts: Sequence[str], query: str, width: int = 18) -> Snippet:
    """make_snippet for the words of ``query``, checked well formed when not empty."""
    result = make_snippet(texts, words(query), width=width)
    if result:
        assert_well_formed(result)
    return result


def test_english_stem_marks_inflected_forms_but_not_other_words() -> None:
    result = snippet([EN], "election", width=40)
    assert marked(result) == ["elections", "elected", "elected"]
    # "electoral" stems to "elector": a different word, left unmarked.
    assert "The electoral commission" in result[0].text


def test_irregular_english_stems_are_found() -> None:
    # Porter2 stems that do not begin like the word: cri(ed) for cry, use for using, die
    # for dying. A cheap look-up by first letters must not miss them.
    text = ("Protesters cried out as police tried using tear gas; one man was dying and "
            "others cry for help.")
    assert marked(snippet([text], "cry")) == ["cried", "cry"]
    assert marked(snippet([text], "try")) == ["tried"]
    assert marked(snippet([text], "use")) == ["using"]
    assert marked(snippet([text], "die")) == ["dying"]


def test_exact_words_match_only_their_folded_form() -> None:
    result = make_snippet([EN], [], exact_words=words("Elections"), width=40)
    assert marked(result) == ["elections"]
    assert make_snippet([EN], [], exact_words=["election"]) == ()


def test_phrase_words_marked_one_by_one_only_where_consecutive() -> None:
    text = ("The bank said the central government would act. Later the Central Bank raised "
            "rates, a central decision for the bank.")
    result = make_snippet([text], [], [words("central bank")], width=30)
    assert_well_formed(result)
    assert marked(result) == ["Central", "Bank"]
    assert snippet_text(result).count("[") == 2
    assert "the [Central] [Bank] raised" in snippet_text(result)


def test_phrase_across_punctuation_and_exact_word_together() -> None:
    text = "Talks on Gaza resumed in Cairo. Officials said Cairo, Egypt hosted them."
    result = make_snippet([text], [], [words("cairo egypt")], words("gaza"), width=30)
    assert marked(result) == ["Gaza", "Cairo", "Egypt"]
    assert "in Cairo. Officials" in snippet_text(result)   # the lone Cairo is not marked


def test_arabic_clitics_article_and_original_spelling() -> None:
    result = snippet([AR], "حكومة", width=40)
    # Tatweel and the damma stay as written; the article, و and لل are part of the word.
    assert marked(result) == ["الحكـــومةُ", "والحكومة", "للحكومات"]
    assert result[0] == Segment("أعلنت ", False)
    assert "".join(segment.text for segment in result) == AR


def test_arabic_query_with_article_and_diacritics_matches_plain_text() -> None:
    result = snippet([AR], "الاقتصادُ")
    assert marked(result) == ["الاقتصاد"]
    assert snippet_text(result, "<b>", "</b>").count("<b>") == 1


def test_arabic_digits_and_punctuation_around_a_match() -> None:
    result = snippet([AR], "2024")
    assert marked(result) == ["٢٠٢٤"]
    assert result[-1] == Segment(".", False)   # the full stop stays, unmarked
    text = "The COVID-19 rules (for elections) end."
    assert snippet_text(snippet([text], "covid elections")) == (
        "The [COVID]-19 rules (for [elections]) end.")


def test_window_is_cut_with_ellipses_around_the_first_match() -> None:
    before = FILLER * 3                      # 72 words
    text = before + "The elections were postponed. " + FILLER * 3
    result = snippet([text], "elections", width=12)
    shown = snippet_text(result)
    assert shown.startswith("…") and shown.endswith("…")
    shown_words = shown.strip("…").split()
    assert len(shown_words) == 12
    assert shown_words[12 // 3] == "[elections]"
    assert shown_words[:4] == [*before.split()[-3:], "The"]


def test_window_near_the_end_shows_full_width_without_trailing_ellipsis() -> None:
    text = FILLER * 2 + "Results of the elections"
    result = snippet([text], "elections", width=10)
    shown = snippet_text(result)
    assert shown.startswith("…") and not shown.endswith("…")
    assert len(shown.lstrip("…").split()) == 10
    assert shown.endswith("Results of the [elections]")


def test_short_text_has_no_ellipsis_and_whitespace_is_collapsed() -> None:
    text = "  Election\n\nresults\t are   due.  "
    result = snippet([text], "elections")
    assert snippet_text(result) == "[Election] results are due."


def test_falls_back_to_the_next_text_with_a_match() -> None:
    title = "Egypt's parliament approves the budget"
    result = snippet(["", FILLER, title], "parliament")
    assert snippet_text(result) == "Egypt's [parliament] approves the budget"


def test_no_match_is_empty() -> None:
    assert make_snippet([EN, AR], words("football")) == ()
    assert make_snippet([EN], []) == ()
    assert make_snippet([], words("election")) == ()


def test_private_use_and_control_characters_are_removed() -> None:
    text = ("Voters \ue000elected\ue001 a new \x00parliament\x07 \ue000 on \uf8ffSunday "
            "in \x1b[1mfree elections.")
    result = snippet([text], "election")
    shown = "".join(segment.text for segment in result)
    assert not any("\ue000" <= char <= "\uf8ff" or char < " " for char in shown)
    assert marked(result) == ["elected", "elections"]
    assert shown == "Voters elected a new parliament on Sunday in [1mfree elections."


def test_segments_alternate_and_none_is_empty() -> None:
    for result in (snippet([EN], "election"), snippet([AR], "حكومة المالية"),
                   make_snippet([EN], [], [words("elected members")], width=5),
                   snippet([FILLER * 5 + "elections"], "elections", width=4)):
        assert_well_formed(result)
        assert any(segment.match for segment in result)


def test_snippet_text_wraps_matches_in_delimiters() -> None:
    segments = (Segment("…the ", False), Segment("elections", True), Segment(" and ", False),
                Segment("voters", True), Segment("…", False))
    assert snippet_text(segments) == "…the [elections] and [voters]…"
    assert snippet_text(segments, "*", "*") == "…the *elections* and *voters*…"
    assert snippet_text(()) == ""


def test_a_5000_word_article() -> None:
    text = FILLER * 200 + "The prime minister resigned on Friday. " + FILLER * 8
    assert len(text.split()) > 5000
    result = snippet([text], "resignation ministers", width=18)
    assert marked(result) == ["minister", "resigned"]
    shown = snippet_text(result)
    assert shown.startswith("…") and shown.endswith("…")
    assert make_snippet([text], words("football")) == ()
