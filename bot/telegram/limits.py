"""Telegram's flood limits, kept on our side so the Bot API rarely has to say 429.

Every message the bot sends (replies, digests, alerts, edits) goes through one
``TelegramLimits``, python-telegram-bot's rate-limiter seam:

- about 30 messages a second overall: one every ``period / overall`` seconds, evenly spaced;
- one a second to a private chat, 20 a minute to a group or channel, for bulk sends
  (``rate_limit_args=BULK``: digests, alerts), timed from when each message was actually let
  through (so waiting for an overall turn never shortens the gap);
- replies to people (no ``rate_limit_args``) get the next overall turn before bulk sends and
  are not held per chat (Telegram tolerates a short burst of replies; a reader is waiting),
  but they count towards their chat's pace: a reader's /search is answered at once during a
  10,000-chat fan-out. When Telegram does refuse one (two commands within a second), the
  reply waits as told and is sent again, up to ``REPLY_RETRIES`` times;
- ``pause(seconds)`` holds every send (a flood wait that is not about one chat);
- ``set_bulk_share(share)``: bulk sends use only this share of the overall rate, when
  several bot processes deliver for one bot (Telegram's limits are the bot's, not a
  process's): the leader most of it, a stand-by a little (its own /digest is not held).

The windows carry a small margin: a request reaches Telegram a little after it is let
through, and being a few percent under the limit costs less than a 429.
Lookups (getChatMember, answerCallbackQuery…) are not messages and are never held.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot import metrics

BULK = "bulk"  # rate_limit_args of outbox sends: they yield to replies
INTERACTIVE, BACKGROUND = 0, 1
_MESSAGE_CALLS = ("send", "edit", "copy", "forward")
SWEEP_EVERY = 1000  # messages between two sweeps of idle chats
REPLY_RETRIES = 2  # a reply Telegram refused with a short wait is sent again this often
REPLY_MAX_WAIT = 10.0  # seconds; a longer flood wait is not worth a reader's wait

JSONResult = Any


class BulkStopped(Exception):
    """A bulk send let through after the outbox began to stop: it was never sent."""


@dataclass(frozen=True)
class Limits:
    """Telegram's published limits, with the margin we keep under them."""

    overall: int = 30              # messages ...
    period: float = 1.0            # ... per this many seconds, across all chats
    private_gap: float = 1.0       # seconds between two messages to one private chat
    group: int = 20                # messages ...
    group_period: float = 60.0     # ... per this many seconds to one group or channel
    margin: float = 0.05           # fraction added to every window


class _Overall:
    """One grant every ``interval`` seconds, evenly spaced rather than in bursts (a burst's
    requests reach Telegram spread out, and would crowd the next second); waiters are
    served by priority, then first come first served."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self._interval = interval
        self._clock = clock
        self._next = 0.0  # earliest time of the next grant
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def turn(self, priority: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._grant()
        await future

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._clock() + seconds)
        self._grant()

    def _grant(self) -> None:
        now = self._clock()
        while self._waiters and now >= self._next:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # a cancelled waiter takes no turn
                future.set_result(None)
                self._next = now + self._interval
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiters:
            self._timer = asyncio.get_running_loop().call_at(self._next, self._grant)


class _ChatPace:
    """The recent send times of one chat, and a lock so its messages pass one by one."""

    __slots__ = ("lock", "sent")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.sent: deque[float] = deque()


class TelegramLimits(BaseRateLimiter[str]):
    """Holds each message until Telegram's limits allow it; raises RetryAfter unchanged
    (the caller decides: the outbox waits and resends in order)."""

    def __init__(self, limits: Limits | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._overall: _Overall | None = None
        self._bulk: _Overall | None = None   # the bulk share's own pace (None: all of it)
        self._bulk_stopped = False
        self._chats: dict[str, _ChatPace] = {}
        self._calls = 0

    async def initialize(self) -> None:
        self._overall = self._make_overall()

    async def shutdown(self) -> None:
        self._chats.clear()

    def pause(self, seconds: float) -> None:
        """Hold every message for ``seconds`` (a global flood wait)."""
        if self._overall is None:
            self._overall = self._make_overall()
        self._overall.pause(seconds)

    def stop_bulk(self, stopped: bool = True) -> None:
        """From now on, a bulk send whose turn comes raises BulkStopped instead of going
        out (a stopping outbox: what waits here was not sent, so it is simply pending)."""
        self._bulk_stopped = stopped

    def set_bulk_share(self, share: float) -> None:
        """Let bulk sends use ``share`` (0–1] of the overall rate; 1 lifts the restriction."""
        if share >= 1.0:
            self._bulk = None
            return
        limits = self.limits
        interval = limits.period * (1.0 + limits.margin) / (limits.overall * share)
        if self._bulk is None or abs(self._bulk.interval - interval) > 1e-9:
            self._bulk = _Overall(interval, self._now)

    async def process_request(
            self, callback: Callable[..., Coroutine[Any, Any, JSONResult]], args: Any,
            kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
            rate_limit_args: str | None) -> JSONResult:
        if not endpoint.lower().startswith(_MESSAGE_CALLS):
            return await callback(*args, **kwargs)
        priority = BACKGROUND if rate_limit_args == BULK else INTERACTIVE
        chat = data.get("chat_id")
        if chat is None:
            await self._turn(priority)
            return await callback(*args, **kwargs)
        key = str(chat)
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._forget_idle()
        pace = self._chats.setdefault(key, _ChatPace())
        if priority == INTERACTIVE:
            return await self._reply(callback, args, kwargs, pace)
        async with pace.lock:
            await self._chat_turn(key, pace)
            if self._bulk is not None:
                await self._bulk.turn(BACKGROUND)
            await self._turn(priority)
            if self._bulk_stopped:
                raise BulkStopped
            pace.sent.append(self._now())
        return await callback(*args, **kwargs)

    async def _reply(self, callback: Callable[..., Coroutine[Any, Any, JSONResult]],
                     args: Any, kwargs: dict[str, Any], pace: _ChatPace) -> JSONResult:
        """A person waits for it: counted in its chat's pace, never held by it."""
        retries = 0
        while True:
            await self._turn(INTERACTIVE)
            pace.sent.append(self._now())
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as refused:
                metrics.too_many_requests("reply")
                wait = retry_seconds(refused)
                retries += 1
                if retries > REPLY_RETRIES or wait > REPLY_MAX_WAIT:
                    raise
                await asyncio.sleep(wait)

    async def _turn(self, priority: int) -> None:
        if self._overall is None:
            self._overall = self._make_overall()
        await self._overall.turn(priority)

    async def _chat_turn(self, key: str, pace: _ChatPace) -> None:
        """Wait until one more message to this chat keeps it within its limit."""
        limits, stretch = self.limits, 1.0 + self.limits.margin
        private = not key.startswith("-") and not key.startswith("@")
        count, period = (1, limits.private_gap) if private else (limits.group,
                                                                 limits.group_period)
        period *= stretch
        now = self._now()
        while pace.sent and pace.sent[0] <= now - period:
            pace.sent.popleft()
        if len(pace.sent) >= count:
            await asyncio.sleep(pace.sent[-count] + period - now)

    def _forget_idle(self) -> None:
        """Chats with nothing recent and nobody waiting are dropped: memory stays bounded
        by the chats active in the last minute, not by every chat ever served."""
        horizon = self._now() - self.limits.group_period * (1.0 + self.limits.margin)
        idle = [key for key, pace in self._chats.items()
                if not pace.lock.locked() and (not pace.sent or pace.sent[-1] <= horizon)]
        for key in idle:
            del self._chats[key]

    def _make_overall(self) -> _Overall:
        limits = self.limits
        return _Overall(limits.period * (1.0 + limits.margin) / limits.overall, self._now)

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()


def retry_seconds(error: RetryAfter) -> float:
    """PTB gives retry_after as seconds or a timedelta, depending on version and settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
