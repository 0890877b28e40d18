"""Read models returned by the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.base import from_db_time
from bot.store.connection import Row

ARTICLE_COLUMNS = """
    a.id, a.feed_id, f.name AS feed_name, a.url, a.published, a.fetched, a.language,
    a.title_original, a.text_original, a.title_translated, a.text_translated, a.lead,
    a.model, a.untranslated, a.story_id
"""


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
    story_id: int = 0    # shared by the articles of one story; a singleton's is its own id


def stored_article(row: Row) -> StoredArticle:
    return StoredArticle(
        id=row["id"], feed_id=row["feed_id"], feed_name=row["feed_name"], url=row["url"],
        published=from_db_time(row["published"]), fetched=from_db_time(row["fetched"]),
        language=row["language"], title_original=row["title_original"],
        text_original=row["text_original"], title_translated=row["title_translated"],
        text_translated=row["text_translated"], lead=row["lead"], model=row["model"],
        untranslated=bool(row["untranslated"]), story_id=row["story_id"] or row["id"],
    )
