"""Search the archive: turn what a user typed into a safe FTS5 query, rank and paginate.

Users type words, "quoted phrases" and stray punctuation. Everything becomes quoted FTS5
strings, so operators and syntax in the input are matched as words, never interpreted.
Arabic is folded like the index (tashkeel, tatweel, alef forms, ya, ta marbuta).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.store import SearchRow, Store
from bot.textnorm import normalize_arabic

MAX_QUERY_CHARS = 256
MAX_TERMS = 12
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


def _quote(term: tuple[str, ...]) -> str:
    # Words come from \w runs so they hold no quotes; doubling is a second line of defence.
    return '"' + " ".join(term).replace('"', '""') + '"'


def search(store: Store, text: str, *, limit: int = 10, offset: int = 0,
           now: datetime | None = None) -> SearchPage:
    """Ranked results for ``text``: all terms first; if none match, any term."""
    query = parse_query(text)
    now = now or datetime.now(UTC)
    if query.empty:
        return SearchPage(text, [], offset, limit, False, True)
    match, matched_all = query.match_all(), True
    if len(query.terms) > 1 and not store.search_articles(match, limit=1, now=now):
        match, matched_all = query.match_any(), False
    rows = store.search_articles(match, limit=limit + 1, offset=offset, now=now)
    return SearchPage(text, rows[:limit], offset, limit, len(rows) > limit, matched_all)
