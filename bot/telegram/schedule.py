"""Scheduled work on PTB's JobQueue: the feed refresh and one ticking job for all digests.

Each subscribed chat stores its next digest time (``chats.next_due_at``, UTC), computed in
its own timezone whenever it subscribes, changes its times or timezone, or is served. The
``digests`` job wakes every ``TICK`` and serves the chats whose time has come, earliest
first, in batches: nothing is built per chat at start-up, and chats due in the same second
are one indexed query, not one job each. Catch-up: a due time at most
``digest.catch_up_minutes`` old (busy loop, restart) is served once; an older one is skipped
and the chat's next digest covers the gap (unsent stories stay candidates for
``digest.max_age_hours``). A digest records the time it served (``last_due_at``) in its own
transaction, so a crash before the next time is stored never serves that time twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes, JobQueue

from bot.errors import StoreError
from bot.models import Chat
from bot.pipeline import refresh
from bot.store import Store
from bot.telegram.digests import queue_alerts, queue_digest
from bot.telegram.services import Services, services

Jobs = JobQueue[ContextTypes.DEFAULT_TYPE]

log = logging.getLogger(__name__)
FIRST_REFRESH = timedelta(seconds=2)
# A digest arrives at most one tick after its time. Tests of the running bot (in process or
# as `python -m bot run`) shorten it through the environment instead of waiting.
TICK = timedelta(seconds=30)
TICK_ENV = "NASHRA_DIGEST_TICK_SECONDS"
BATCH = 500  # due chats read per query; the event loop runs other work between batches
# Late runs (busy loop) still run, once: the tick itself applies the catch-up limit.
TICK_JOB = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


def schedule_refresh(queue: Jobs, minutes: int) -> None:
    """Refresh every fetch.interval_minutes; APScheduler never runs two at once."""
    queue.run_repeating(refresh_job, interval=timedelta(minutes=minutes),
                              first=FIRST_REFRESH, name="refresh",
                              job_kwargs={"max_instances": 1, "coalesce": True})


async def refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One pipeline run; skipped when the previous one is still going."""
    await run_refresh(services(context))


async def run_refresh(svc: Services) -> None:
    if svc.refresh_lock.locked():
        log.info("refresh still running; this turn is skipped")
        return
    async with svc.refresh_lock:
        svc.refresh_task = asyncio.current_task()
        try:
            report = await refresh(svc.settings, svc.store, svc.fetcher, svc.translator)
            svc.last_report, svc.last_refresh = report, datetime.now(UTC)
            alerts = queue_alerts(svc, report.new_article_ids, svc.last_refresh)
            log.info("refresh: %d new articles, %d feeds failed, %d sentences translated, "
                     "%d from cache, %d alerts", report.new_articles, report.failed_feeds,
                     report.sentences_translated, report.cache_hits, alerts)
        finally:
            svc.refresh_task = None


async def stop_refresh(svc: Services) -> None:
    """Abandon a running refresh at shutdown: its writes are per-feed transactions."""
    task = svc.refresh_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


# when digests are due ---------------------------------------------------------------------


def tick_interval(environ: Mapping[str, str] = os.environ) -> timedelta:
    """``TICK``, or the shorter interval tests set in ``$NASHRA_DIGEST_TICK_SECONDS``."""
    value = environ.get(TICK_ENV)
    return max(timedelta(seconds=float(value)), timedelta(seconds=0.1)) if value else TICK


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


# the tick ---------------------------------------------------------------------------------


def schedule_digests(queue: Jobs, interval: timedelta = TICK) -> None:
    """The ``digests`` tick, and one pass right at start for times due while the bot was
    down. (An interval job whose first run is already past when the scheduler starts would
    wait a whole interval; a one-off job runs however late.)"""
    queue.run_once(digest_job, when=timedelta(0), name="digests:start", job_kwargs=TICK_JOB)
    queue.run_repeating(digest_job, interval=interval, first=interval, name="digests",
                        job_kwargs=TICK_JOB)


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Serve every chat due now; other handlers and delivery run between batches."""
    svc = services(context)
    for _served in serve_batches(svc, datetime.now(UTC)):
        await asyncio.sleep(0)


def serve_due(svc: Services, now: datetime) -> int:
    """Serve every chat due at ``now``; returns how many due times were served."""
    return sum(serve_batches(svc, now))


def serve_batches(svc: Services, now: datetime, size: int = BATCH) -> Iterator[int]:
    """Serve the due chats ``size`` at a time, earliest first; yields each batch's count.

    Each chat leaves the due range once served; reading on after the last chat of the batch
    also steps past one whose digest failed (it is tried again at the next tick)."""
    after: tuple[datetime, int] | None = None
    while chats := svc.store.due_chats(now, after=after, limit=size):
        yield sum(_serve_safely(svc, chat, now) for chat in chats)
        last = chats[-1]
        assert last.next_due_at is not None
        after = (last.next_due_at, last.id)


def _serve_safely(svc: Services, chat: Chat, now: datetime) -> int:
    try:
        return serve_chat(svc, chat, now)
    except StoreError:
        raise  # the database refuses: every other chat would fail the same way
    except Exception:
        log.exception("digest of chat %s failed; tried again at the next tick", chat.id)
        return 0


def serve_chat(svc: Services, chat: Chat, now: datetime) -> int:
    """Queue the digest of the chat's latest due time unless it is too old or served
    already, then store its next time. Returns 1 if a due time was served."""
    due = latest_due(chat, now)
    grace = timedelta(minutes=svc.settings.digest.catch_up_minutes)
    served = 0
    if due is not None and not _handled(chat, due):
        if now - due <= grace:
            queue_digest(svc, chat, now, due=due)
            served = 1
        else:
            log.debug("chat %s: the %s digest is too late; the next one covers the gap",
                     chat.id, due.isoformat())
    # A separate transaction: a crash before it leaves the time due, and _handled skips it.
    svc.store.set_next_due(chat.id, next_due_after(chat, now))
    return served


def _handled(chat: Chat, due: datetime) -> bool:
    """Served already, or before the chat subscribed (its first digest is the next one)."""
    return any(moment is not None and moment >= due
               for moment in (chat.last_due_at, chat.subscribed_at))
