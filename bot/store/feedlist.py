"""Feed lists brought in from other readers (OPML imports) and feed categories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.opml import OpmlFeed
from bot.store.base import Database, to_db_time

# A new feed arrives as if an admin had added it with /addfeed; a removed one comes back
# (active again, refreshed as an admin's feed) and keeps the category it had, if any.
_IMPORT = """
INSERT INTO feeds (url, name, category, origin, created)
VALUES (:url, :name, :category, 'user', :now)
ON CONFLICT (url) DO UPDATE SET active = 1, origin = 'user', name = excluded.name,
    category = CASE WHEN feeds.category = '' THEN excluded.category ELSE feeds.category END
"""


class FeedListQueries(Database):
    """Imports of feed lists and feed categories."""

    def import_feeds(self, feeds: Sequence[OpmlFeed], now: datetime) -> int:
        """Add (or revive) these feeds in one transaction; returns how many."""
        if not feeds:
            return 0
        moment = to_db_time(now)
        with self._transaction() as db:
            db.executemany(_IMPORT, [{"url": f.url, "name": f.name, "category": f.category,
                                      "now": moment} for f in feeds])
        return len(feeds)

    def set_feed_category(self, feed_id: int, category: str) -> bool:
        """File a feed under ``category`` ("" for none); False if there is no such feed."""
        return self._execute_write("UPDATE feeds SET category = :category WHERE id = :id",
                                   {"category": category, "id": feed_id}) > 0
