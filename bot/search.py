"""Search the archive: turn what a user typed into a safe FTS5 query, rank and paginate.

Users type words, "quoted phrases" and stray punctuation. Everything becomes quoted FTS5
strings, so operators and syntax in the input are matched as words, never interpreted.
Arabic is folded like the index (tashkeel, tatweel, alef forms, ya, ta marbuta).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.store import SearchRow
from bot.store.base import HIGHLIGHT_END, HIGHLIGHT_START, Ranked
from bot.textnorm import arabic_ratio, normalize_arabic

# Longer input is refused by the bot (query_problem) and cut to this length everywhere else.
MAX_QUERY_CHARS = 200
MAX_TERMS = 12
# Deepest result offset a caller may ask for (pages beyond are refused, never queried).
MAX_OFFSET = 100_000
SNIPPET_WORDS = 18
_FOLD_RUN = 64
_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: each term is a word or a phrase (a tuple of words)."""

    terms: tuple[tuple[str, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.terms

    def match_all(self) -> str:
        """Every term must match (FTS5 implicit AND)."""
        return " ".join(_quote(term) for term in self.terms)

    def match_any(self) -> str:
        return " OR ".join(_quote(term) for term in self.terms)


class Archive(Protocol):
    """Where search() looks: the Store itself, or its read-only ``Store.reader()``."""

    def search_exists(self, match: str) -> bool: ...

    def search_ranked(self, match: str, *, limit: int, offset: int = 0,
                      now: datetime) -> list[Ranked]: ...

    def search_hits(self, match: str, ranked: Sequence[Ranked]) -> list[SearchRow]: ...


@dataclass(frozen=True)
class SearchPage:
    query: str
    hits: list[SearchRow]
    offset: int
    limit: int
    has_more: bool
    matched_all_terms: bool


def parse_query(text: str) -> SearchQuery:
    """Split user input into folded words and phrases; anything else is dropped."""
    text = normalize_arabic(text[:MAX_QUERY_CHARS]).lower()
    terms: list[tuple[str, ...]] = []
    for phrase in _PHRASE.findall(text):
        words = tuple(_WORD.findall(phrase))
        if words:
            terms.append(words)
    for word in _WORD.findall(_PHRASE.sub(" ", text)):
        terms.append((word,))
    return SearchQuery(tuple(dict.fromkeys(terms))[:MAX_TERMS])


def query_problem(text: str) -> str | None:
    """Why ``text`` cannot be searched as typed, in one short sentence; None when it can."""
    if len(text) > MAX_QUERY_CHARS:
        return f"That search is too long (max {MAX_QUERY_CHARS} characters)."
    if parse_query(text).empty:
        return "There are no words to search for in that. Try e.g. /search central bank."
    return None


def _quote(term: tuple[str, ...]) -> str:
    # Words come from \w runs so they hold no quotes; doubling is a second line of defence.
    return '"' + " ".join(term).replace('"', '""') + '"'


def search(archive: Archive, text: str, *, limit: int = 10, offset: int = 0,
           now: datetime | None = None) -> SearchPage:
    """Ranked results for ``text``: all terms first; if none match, any term.

    Matches are ranked by id and score alone (one more than the page, to know whether
    another page follows); only the page's articles are read, with their snippets. The
    store ranks by relevance and recency; a very common word, among its newest matches
    only, by recency and title matches (SQLite: :mod:`bot.store.search`).
    """
    query = parse_query(text)
    now = now or datetime.now(UTC)
    if query.empty or not 0 <= offset <= MAX_OFFSET:
        return SearchPage(text, [], offset, limit, False, True)
    match, matched_all = query.match_all(), True
    if len(query.terms) > 1 and not archive.search_exists(match):
        match, matched_all = query.match_any(), False
    ranked = archive.search_ranked(match, limit=limit + 1, offset=offset, now=now)
    rows = archive.search_hits(match, ranked[:limit])
    hits = [_readable_snippet(row, query) for row in rows]
    return SearchPage(text, hits, offset, limit, len(ranked) > limit, matched_all)


def _readable_snippet(row: SearchRow, query: SearchQuery) -> SearchRow:
    """The index holds folded Arabic; show a snippet cut from the original text instead."""
    if arabic_ratio(row.snippet) < 0.5:
        return row
    words = {word for term in query.terms for word in term}
    for original in (row.article.title_original, row.article.text_original):
        snippet = arabic_snippet(original, words)
        if snippet:
            return replace(row, snippet=snippet)
    return row


def arabic_snippet(text: str, words: set[str] | Sequence[str],
                   width: int = SNIPPET_WORDS) -> str | None:
    """A window of ``text`` around the first matching word, matches wrapped in markers
    (the markers' own characters are removed from ``text`` first)."""
    tokens = _unmarked(text).split()
    wanted = set(words)
    first = _first_match(tokens, wanted)
    if first is None:
        return None
    start = max(0, min(first - width // 3, len(tokens) - width))
    window = tokens[start:start + width]
    shown = [f"{HIGHLIGHT_START}{token}{HIGHLIGHT_END}" if _matches(token, wanted) else token
             for token in window]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(tokens) else ""
    return prefix + " ".join(shown) + suffix


def _matches(token: str, wanted: set[str]) -> bool:
    return not wanted.isdisjoint(_WORD.findall(normalize_arabic(token).lower()))


def _first_match(tokens: list[str], wanted: set[str]) -> int | None:
    """The index of the first token holding a wanted word. Articles are long and folding
    is slow, so runs of tokens are folded together and searched until one has a match."""
    if not wanted:
        return None
    words = "|".join(re.escape(word) for word in sorted(wanted, key=len, reverse=True))
    pattern = re.compile(rf"(?<![^\W_])(?:{words})(?![^\W_])")
    for begin in range(0, len(tokens), _FOLD_RUN):
        run = tokens[begin:begin + _FOLD_RUN]
        folded = normalize_arabic(" ".join(run)).lower()
        match = pattern.search(folded)
        if match is None:
            continue
        if folded.count(" ") == len(run) - 1:   # folding kept the tokens apart as they were
            return begin + folded.count(" ", 0, match.start())
        found = next((i for i, token in enumerate(run) if _matches(token, wanted)), None)
        if found is not None:
            return begin + found
    return None


def _unmarked(text: str) -> str:
    return text.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
