"""The outbox's bookkeeping: which chats have messages waiting, which are in flight, and
whether Telegram's 429s are about one chat or the whole bot. No I/O here."""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterable

FLOOD_CHATS = 3        # this many different chats told to wait ...
FLOOD_WINDOW = 1.0     # ... within this many seconds: a flood wait for the whole bot


class Lanes:
    """Chats with pending messages, served first come first served, at most ``limit`` at
    once; each chat's message ids in ascending order (the order they must arrive in).

    The queue is read in steps (``cursor`` is the last id read), so only the chats near the
    front are held in memory, whatever the length of the outbox.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.cursor = 0
        self._queued: dict[int, list[int]] = {}
        self._known: set[int] = set()
        self._waiting: dict[int, None] = {}  # insertion-ordered: first come, first served
        self._open: set[int] = set()

    def wants_more(self) -> bool:
        """Whether fewer chats wait than lanes exist: time to read more of the queue."""
        return len(self._waiting) < self.limit

    def add(self, rows: Iterable[tuple[int, int]]) -> None:
        """(message id, chat id) pairs read from the queue; ids already held are ignored."""
        for message_id, chat in rows:
            self.cursor = max(self.cursor, message_id)
            if message_id in self._known:
                continue
            self._known.add(message_id)
            bisect.insort(self._queued.setdefault(chat, []), message_id)
            if chat not in self._open:
                self._waiting.setdefault(chat, None)

    def rescan(self) -> None:
        """Read the queue from its start again (ids held are not taken twice)."""
        self.cursor = 0

    def next_chat(self) -> int | None:
        """A waiting chat for a free lane, or None."""
        if len(self._open) >= self.limit or not self._waiting:
            return None
        chat = next(iter(self._waiting))
        del self._waiting[chat]
        self._open.add(chat)
        return chat

    def head(self, chat: int) -> int | None:
        """The chat's oldest message not yet done."""
        queue = self._queued.get(chat)
        return queue[0] if queue else None

    def done(self, chat: int, message_id: int) -> None:
        queue = self._queued.get(chat, [])
        if message_id in queue:
            queue.remove(message_id)
        self._known.discard(message_id)

    def forget(self, chat: int) -> None:
        """Drop the chat's messages (another process sends them); a rescan finds any left."""
        for message_id in self._queued.pop(chat, []):
            self._known.discard(message_id)

    def close(self, chat: int) -> None:
        """The chat's lane ended; if messages remain (stopped mid-way) it waits again."""
        self._open.discard(chat)
        if self._queued.get(chat):
            self._waiting.setdefault(chat, None)
        else:
            self._queued.pop(chat, None)


class FloodWatch:
    """Tells a 429 for one chat from a flood wait for the whole bot: Telegram's answer
    looks the same, but a flood wait soon reaches several chats at once."""

    def __init__(self, chats: int = FLOOD_CHATS, window: float = FLOOD_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._chats = chats
        self._window = window
        self._clock = clock
        self._told: deque[tuple[float, int]] = deque()
        self._until = 0.0

    def told(self, chat: int, wait: float) -> bool:
        """Record a 429 for ``chat``; True when it makes a flood wait for every chat."""
        now = self._clock()
        self._told.append((now, chat))
        while self._told and self._told[0][0] < now - self._window:
            self._told.popleft()
        if len({c for _, c in self._told}) < self._chats:
            return False
        self._until = max(self._until, now + wait)
        return True

    def remaining(self) -> float:
        """Seconds left of the current flood wait (0 when none)."""
        return max(0.0, self._until - self._clock())
