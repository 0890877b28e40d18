"""When a chat's digests are due: its HH:MM times in its own timezone, as UTC instants.

Each subscribed chat stores its next digest time (``chats.next_due_at``, UTC), computed
whenever it subscribes, changes its times or timezone, or is served (see
:mod:`bot.digests`). Local times are DST-correct: a wall time repeated when clocks go back
counts once, one skipped when they jump forward comes at the first instant after the jump.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.models import Chat
from bot.store import Store


def _wall_time(text: str) -> time:
    hour, minute, *second = (int(p) for p in text.split(":"))
    return time(hour, minute, second[0] if second else 0)


@lru_cache(maxsize=4096)  # most chats share their zone and times: a tick computes few
def local_instant(day: date, at: time, timezone: str) -> datetime:
    """``at`` on ``day`` in ``timezone``, in UTC. A wall time repeated when clocks go back is
    its first occurrence; one skipped when they jump forward is the first instant after."""
    zone = ZoneInfo(timezone)
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the offset before a change
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=1 (the offset after) lands before the jump and fold=0 after it.
    return _jump(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first, zone)


def _jump(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant (to the second) between ``before`` and ``after`` when the offset changed:
    zoneinfo does not expose its transitions, so bisect."""
    low, high = int(before.timestamp()), int(after.timestamp())
    offset = before.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _instants(chat: Chat, around: datetime) -> list[datetime]:
    """The chat's digest times on the days around ``around`` (UTC, sorted, distinct)."""
    today = around.astimezone(ZoneInfo(chat.timezone)).date()
    walls = [_wall_time(at) for at in chat.times]
    # Two days each side: a time pushed past midnight by a jump still has a neighbour.
    return sorted({local_instant(today + timedelta(days=d), wall, chat.timezone)
                   for d in range(-2, 3) for wall in walls})


def latest_due(chat: Chat, now: datetime) -> datetime | None:
    """The most recent of the chat's digest times at or before ``now`` (aware, UTC)."""
    past = [m for m in _instants(chat, now) if m <= now]
    return past[-1] if past else None


def next_due_after(chat: Chat, moment: datetime) -> datetime | None:
    """The chat's first digest time strictly after ``moment`` (None without times)."""
    return next((m for m in _instants(chat, moment) if m > moment), None)


def reschedule(store: Store, chat: Chat, now: datetime | None = None) -> datetime | None:
    """Store the chat's next digest time after it (un)subscribed or changed its times or
    timezone; ``chat`` must be as stored now. Returns that time (None: unsubscribed)."""
    now = now or datetime.now(UTC)
    due = next_due_after(chat, now) if chat.subscribed else None
    pending = chat.next_due_at
    if due is not None and pending is not None and pending <= now:
        due = pending  # due, and the tick not there yet: a settings change does not skip it
    store.set_next_due(chat.id, due)
    return due


def next_due(store: Store, chat_id: int) -> datetime | None:
    """The chat's stored next digest time (for tests and feedback)."""
    chat = store.get_chat(chat_id)
    return chat.next_due_at if chat else None
