"""Search the archive: what a reader typed (:mod:`bot.query`) → one page of stories.

Shared by /search, inline mode and ``nashra search``. Every word must match, in its exact
form or by its stem; when no story has them all, the stories with the most of them are
shown instead, labelled as partial matches. The store ranks ids (one per story) and reads
only the page's articles; snippets (:mod:`bot.snippets`) are cut from the text in the
reader's script: Arabic words from the Arabic original, Latin words from the translation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from bot.analysis import is_arabic
from bot.i18n import N_, Gettext
from bot.query import MAX_QUERY_CHARS, Query, parse_query
from bot.snippets import Snippet, make_snippet
from bot.store import StoredArticle
from bot.store.search import Match, SearchScope

# Deepest result offset a caller may ask for (pages beyond are refused, never queried).
MAX_OFFSET = 100_000


class Archive(Protocol):
    """Where :func:`search` looks: the store's read-only ``Store.reader()``."""

    def search_sources(self, names: Sequence[str]) -> tuple[int, ...]: ...

    def search_exists(self, query: Query, scope: SearchScope, *,
                      any_term: bool = False) -> bool: ...

    def search_ranked(self, query: Query, scope: SearchScope, *, limit: int, offset: int = 0,
                      now: datetime, any_term: bool = False) -> list[Match]: ...

    def search_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]: ...

    def story_outlets(self, story_ids: Sequence[int]) -> dict[int, int]: ...


@dataclass(frozen=True)
class SearchHit:
    """One story found: its best-matching article, a snippet, and how many sources carry it."""

    article: StoredArticle
    snippet: Snippet
    outlets: int
    score: float


@dataclass(frozen=True)
class SearchPage:
    text: str
    query: Query
    hits: list[SearchHit]
    offset: int
    limit: int
    has_more: bool
    matched_all_terms: bool
    unknown_sources: tuple[str, ...] = field(default=())


def query_problem(text: str, now: datetime | None = None, _: Gettext = N_) -> str | None:
    """Why ``text`` cannot be searched as typed, in one short sentence (English, or through
    ``_``, a chat's gettext); None when it can."""
    if len(text) > MAX_QUERY_CHARS:
        return _("That search is too long (max %(count)d characters).") % {
            "count": MAX_QUERY_CHARS}
    if parse_query(text, now or datetime.now(UTC)).empty:
        return _("There are no words to search for in that. Try e.g. /search central bank.")
    return None


def search(archive: Archive, text: str, *, limit: int = 10, offset: int = 0,
           now: datetime | None = None) -> SearchPage:
    """Ranked stories for ``text``: every word first; if none has them all, any word."""
    now = now or datetime.now(UTC)
    query = parse_query(text, now)
    page = SearchPage(text, query, [], offset, limit, False, True)
    if query.empty or not 0 <= offset <= MAX_OFFSET:
        return page
    scope, unknown = _scope(archive, query)
    if scope.feed_ids == ():  # no source has that name
        return SearchPage(text, query, [], offset, limit, False, True, unknown)
    any_term = _terms(query) > 1 and not archive.search_exists(query, scope)
    ranked = archive.search_ranked(query, scope, limit=limit + 1, offset=offset, now=now,
                                   any_term=any_term)
    hits = _hits(archive, query, ranked[:limit])
    return SearchPage(text, query, hits, offset, limit, len(ranked) > limit, not any_term,
                      unknown)


def _terms(query: Query) -> int:
    return len(query.words) + len(query.exact_words) + len(query.phrases)


def _scope(archive: Archive, query: Query) -> tuple[SearchScope, tuple[str, ...]]:
    """The sources and dates to search, and the source names that match no source."""
    if not query.sources:
        return SearchScope(None, query.since, query.until), ()
    found: dict[int, None] = {}
    unknown: list[str] = []
    for name in query.sources:
        ids = archive.search_sources([name])
        found.update(dict.fromkeys(ids))
        if not ids:
            unknown.append(name)
    return SearchScope(tuple(found), query.since, query.until), tuple(unknown)


def _hits(archive: Archive, query: Query, ranked: Sequence[Match]) -> list[SearchHit]:
    articles = archive.search_articles([m.article_id for m in ranked])
    outlets = archive.story_outlets([m.story_id for m in ranked])
    hits = []
    for match in ranked:
        article = articles.get(match.article_id)
        if article is not None:  # deleted meanwhile
            hits.append(SearchHit(article, snippet(article, query),
                                  outlets.get(match.story_id, 1), match.score))
    return hits


def snippet(article: StoredArticle, query: Query) -> Snippet:
    """Words around the first match, from the text in the script of the query's words."""
    english = [article.text_translated, article.title_translated]
    arabic = [article.text_original, article.title_original]
    tokens = [*query.words, *query.exact_words, *(t for p in query.phrases for t in p)]
    texts = arabic + english if tokens and is_arabic(tokens[0]) else english + arabic
    return make_snippet(texts, query.words, query.phrases, query.exact_words)
