"""Articles by source language: what detection falls back on, and what waits for a model."""

from __future__ import annotations

from datetime import datetime

from bot.store.base import Database, to_db_time


class LanguageQueries(Database):
    """Both queries are bounded by the ``fetched`` index (a recent window of articles)."""

    def recent_languages(self, feed_id: int, since: datetime) -> dict[str, int]:
        """How many of the feed's articles fetched since ``since`` are in each language."""
        rows = self._db.execute(
            "SELECT language, COUNT(*) AS n FROM articles "
            "WHERE fetched >= :since AND feed_id = :feed GROUP BY language",
            {"since": to_db_time(since), "feed": feed_id})
        return {str(row["language"]): int(row["n"]) for row in rows}

    def untranslated_languages(self, since: datetime) -> list[str]:
        """Languages of the articles fetched since ``since`` and stored without a model
        (its pair had none, or it failed): those a refresh may translate later."""
        rows = self._db.execute(
            "SELECT DISTINCT language FROM articles "
            "WHERE fetched >= :since AND untranslated = 1 AND model = '' ORDER BY language",
            {"since": to_db_time(since)})
        return [str(row["language"]) for row in rows]
