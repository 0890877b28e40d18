"""The only place with SQL. :class:`Store` is the interface the rest of Nashra uses."""

from bot.store.records import StoredArticle
from bot.store.sqlite import Store

__all__ = ["Store", "StoredArticle"]
