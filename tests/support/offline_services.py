"""The bot's shared services without Telegram, HTTP or a model: for testing digest queueing,
alerts and catch-up directly on a real store, with an outbox that only counts wake-ups."""

from __future__ import annotations

from bot.config import Settings
from bot.store import Store
from bot.telegram.services import Services


class CountingOutbox:
    """Stands in for the outbox sender: queued messages stay in the database to inspect."""

    def __init__(self) -> None:
        self.wakes = 0

    def notify(self) -> None:
        self.wakes += 1


def offline_services(store: Store, settings: Settings | None = None) -> Services:
    """Services over ``store``; fetcher and translator are absent (never used on this path)."""
    return Services(settings or Settings(), store, None, None,  # type: ignore[arg-type]
                    CountingOutbox())  # type: ignore[arg-type]
