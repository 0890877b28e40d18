"""A parsed query (:class:`bot.query.Query`) as an SQLite FTS5 expression over ``search_index``.

Every token is quoted, so nothing a reader types is read as FTS5 syntax. A word matches its
exact form in its script's fields (Latin: the English title, lead and text; Arabic: the
folded original title and text) or one of its stems (:func:`bot.terms.query_stems`) in the
stems fields; phrases and quoted words match exact forms only. bm25 weighs exact fields
above stems, so an exact match ranks above a stemmed one, and titles above leads above texts.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.analysis import is_arabic
from bot.query import Query
from bot.terms import query_stems

ENGLISH = "{title_en lead_en text_en}"
ARABIC = "{title_ar text_ar}"
STEMS = "{title_stems text_stems}"
TITLES = "{title_en title_ar title_stems}"
# bm25 weights in the index's column order: title_en, lead_en, text_en, title_ar, text_ar,
# title_stems, text_stems.
WEIGHTS = "10.0, 5.0, 1.5, 10.0, 1.5, 4.0, 1.0"


def _quoted(tokens: Sequence[str]) -> str:
    # Tokens come from word runs and hold no quotes; doubling is a second line of defence.
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _exact_fields(first: str) -> str:
    return ARABIC if is_arabic(first) else ENGLISH


def word(token: str) -> str:
    """One query word: its exact form or any of its stems."""
    stems = " OR ".join(_quoted((stem,)) for stem in query_stems(token))
    return f"({_exact_fields(token)} : {_quoted((token,))} OR {STEMS} : ({stems}))"


def exact(tokens: Sequence[str]) -> str:
    """A phrase (or a quoted word): these forms, in this order."""
    return f"{_exact_fields(tokens[0])} : {_quoted(tokens)}"


def term(tokens: Sequence[str]) -> str:
    return word(tokens[0]) if len(tokens) == 1 else exact(tokens)


def positives(query: Query) -> list[str]:
    """One expression per word, quoted word and phrase."""
    return ([word(token) for token in query.words]
            + [exact((token,)) for token in query.exact_words]
            + [exact(phrase) for phrase in query.phrases])


def wanted(query: Query, *, any_term: bool = False) -> str:
    """Every term (or, with ``any_term``, at least one), whatever else the article says."""
    return (" OR " if any_term else " AND ").join(positives(query))


def match(query: Query, *, any_term: bool = False) -> str:
    """Every term (or, with ``any_term``, at least one), none of the excluded ones."""
    wanted_ = wanted(query, any_term=any_term)
    unwanted = " OR ".join([term(tokens) for tokens in query.excluded]
                           + [exact((token,)) for token in query.excluded_exact])
    if not unwanted:
        return wanted_
    return f"({wanted_}) NOT ({unwanted})"


def in_titles(expression: str) -> str:
    """The same expression, matched in the titles only."""
    return f"{TITLES} : ({expression})"
