"""Per-chat command rate limit: a sliding window, checked before any other handler.

Commands and button presses count; plain text does not. Over the limit, the chat is told
once per window to slow down, further commands are ignored silently, and every further
button press is answered with the same notice (Telegram shows a spinner until a button is
answered). Commands that were refused do not count, so the chat is served again as soon as
its oldest accepted command leaves the window.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.i18n import N_, language_for, translation

log = logging.getLogger(__name__)

COMMANDS_PER_WINDOW = 20
WINDOW_SECONDS = 60.0
SLOW_DOWN = N_("You're sending commands too fast — please wait a moment.")
LIMITER_KEY = "nashra.ratelimit"
# Forget idle chats once this many are tracked, so memory stays bounded.
MAX_TRACKED_CHATS = 10_000


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"  # over the limit, first time in this window: say so
    DROP = "drop"  # over the limit, already told


@dataclass
class _Window:
    stamps: deque[float] = field(default_factory=deque)
    warned: bool = False


@dataclass
class RateLimiter:
    """``limit`` accepted commands per ``window`` seconds and chat (sliding window)."""

    limit: int = COMMANDS_PER_WINDOW
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _chats: dict[int, _Window] = field(default_factory=dict)

    def check(self, chat_id: int) -> Verdict:
        now = self.clock()
        state = self._chats.get(chat_id)
        if state is None:
            self._forget_idle(now)
            state = self._chats[chat_id] = _Window()
        while state.stamps and now - state.stamps[0] >= self.window:
            state.stamps.popleft()
        if len(state.stamps) < self.limit:
            state.stamps.append(now)
            state.warned = False
            return Verdict.ALLOW
        if state.warned:
            return Verdict.DROP
        state.warned = True
        return Verdict.WARN

    def _forget_idle(self, now: float) -> None:
        if len(self._chats) < MAX_TRACKED_CHATS:
            return
        for chat_id in [c for c, s in self._chats.items()
                        if not s.stamps or now - s.stamps[-1] >= self.window]:
            del self._chats[chat_id]


def counts(update: Update) -> bool:
    """Commands, button presses and inline searches count; other updates do not."""
    if update.callback_query is not None or update.inline_query is not None:
        return True
    message = update.message or update.edited_message
    return bool(message and message.text and message.text.startswith("/"))


async def enforce(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """TypeHandler callback (group -1): let the update through or stop it here."""
    if not isinstance(update, Update) or not counts(update):
        return
    # Inline searches come from a person, in no chat of the bot's: counted per user (a
    # user's id is also their private chat's id, so one person has one window).
    sender = update.effective_chat or update.effective_user
    limiter: RateLimiter | None = context.application.bot_data.get(LIMITER_KEY)
    if limiter is None or sender is None:
        return
    verdict = limiter.check(sender.id)
    if verdict is Verdict.ALLOW:
        return
    # In the user's own language: a flood is no time to read the chat's from the database.
    code = update.effective_user.language_code if update.effective_user else None
    slow_down = translation(language_for(None, code)).gettext(SLOW_DOWN)
    try:
        if update.inline_query is not None:
            await update.inline_query.answer([], cache_time=0, is_personal=True)
        elif update.callback_query is not None:
            await update.callback_query.answer(slow_down)
        elif verdict is Verdict.WARN and update.effective_message is not None:
            await update.effective_message.reply_text(slow_down)
    except TelegramError as exc:
        log.debug("could not send the rate-limit notice: %s", exc)
    raise ApplicationHandlerStop


def handler() -> TypeHandler[Update, ContextTypes.DEFAULT_TYPE, None]:
    """Register with ``group=-1`` so it runs before every other handler."""
    return TypeHandler(Update, enforce)
