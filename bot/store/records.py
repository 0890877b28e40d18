"""Read models returned by the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredArticle:
    """An article as read back for digests, search and export."""

    id: int
    feed_id: int
    feed_name: str
    url: str
    published: datetime
    fetched: datetime
    language: str
    title_original: str
    text_original: str
    title_translated: str
    text_translated: str
    lead: str
    model: str
    untranslated: bool


@dataclass(frozen=True)
class SearchRow:
    """One search match: the article plus a snippet whose matches are wrapped in markers."""

    article: StoredArticle
    snippet: str
    score: float
