"""What the bot's handlers and jobs share, opened in post_init and closed in post_shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, ContextTypes, ExtBot, JobQueue

from bot.config import Settings
from bot.fetch import Fetcher
from bot.models import Chat
from bot.pipeline import RefreshReport
from bot.store import Store
from bot.translate import Translator

if TYPE_CHECKING:
    from bot.store.leader import LeaderLock
    from bot.telegram.delivery import Outbox

SERVICES_KEY = "nashra"
NashraApp = Application[ExtBot[Any], ContextTypes.DEFAULT_TYPE, dict[Any, Any],
                        dict[Any, Any], dict[Any, Any], JobQueue[ContextTypes.DEFAULT_TYPE]]


@dataclass(frozen=True)
class Role:
    """What this process does. `nashra run`: everything. `nashra bot`: the Telegram side
    only (workers refresh), and in polling mode only the leader polls (Telegram gives
    updates to one poller at a time)."""

    refreshes: bool = True
    polls_when_leading: bool = False
    # Several `nashra bot` processes deliver for one bot: Telegram's rate is shared out.
    shares_delivery: bool = False


ALL_IN_ONE = Role()
TELEGRAM_ONLY = Role(refreshes=False, polls_when_leading=True, shares_delivery=True)


@dataclass
class Services:
    settings: Settings
    store: Store
    fetcher: Fetcher
    translator: Translator
    outbox: Outbox
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    refresh_task: asyncio.Task[Any] | None = None
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_refresh: datetime | None = None
    last_report: RefreshReport | None = None
    role: Role = ALL_IN_ONE
    leader: LeaderLock | None = None   # None: this process always leads (tests, SQLite)
    stopping: bool = False   # set first at shutdown: no job starts receiving updates again

    def chat_for(self, chat_id: int, chat_type: str, title: str,
                 language: str | None = None) -> Chat:
        """The chat's row, created on first contact with the configured defaults; it takes
        ``language`` (its first user's) while it has no interface language yet."""
        d = self.settings.digest
        return self.store.ensure_chat(chat_id, chat_type, title, times=d.times,
                                      timezone=d.timezone, max_items=d.max_items,
                                      now=datetime.now(UTC), language=language)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    found: Services = context.application.bot_data[SERVICES_KEY]
    return found
