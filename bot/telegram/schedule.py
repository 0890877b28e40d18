"""Scheduled work on PTB's JobQueue: the feed refresh and each chat's digests.

Jobs are named by chat (``digest:<chat id>:<HH:MM>``) so a chat's schedule can be replaced
as a whole; they are rebuilt from the database at start. No scheduled digest is skipped: a
job late because the event loop was busy still runs within ``digest.catch_up_minutes``
(APScheduler's own grace is one second), and at start-up a digest whose time passed while
the bot was down is sent once when it is that recent. Each chat remembers the last scheduled
time it was served (``last_due_at``), so a time is never served twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes, JobQueue

from bot.models import Chat
from bot.pipeline import refresh
from bot.store import Store
from bot.telegram.digests import queue_alerts, queue_digest
from bot.telegram.services import Services, services

Jobs = JobQueue[ContextTypes.DEFAULT_TYPE]

log = logging.getLogger(__name__)
FIRST_REFRESH = timedelta(seconds=2)


def parse_time(text: str, timezone: str) -> time:
    hour, minute, *second = (int(p) for p in text.split(":"))
    return time(hour, minute, second[0] if second else 0, tzinfo=ZoneInfo(timezone))


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


def schedule_chat(queue: Jobs, chat: Chat) -> None:
    """Replace the chat's digest jobs with one per configured time (none if unsubscribed)."""
    prefix = f"digest:{chat.id}:"
    for job in queue.jobs():
        if job.name and job.name.startswith(prefix):
            job.schedule_removal()
    if not chat.subscribed:
        return
    for at in chat.times:
        queue.run_daily(digest_job, time=parse_time(at, chat.timezone),
                        name=prefix + at, chat_id=chat.id)


def schedule_all(queue: Jobs, store: Store) -> None:
    for chat in store.subscribed_chats():
        schedule_chat(queue, chat)


def allow_late_jobs(queue: Jobs, catch_up_minutes: int) -> None:
    """Let a job that is late (busy event loop) still run, once, within the catch-up time.

    Call before the job queue starts (post_init): APScheduler takes defaults only then.
    """
    # PTB's own settings (timezone, its executor) must be passed again: configure() resets.
    queue.scheduler.configure(job_defaults={
        "misfire_grace_time": max(1, catch_up_minutes * 60), "coalesce": True},
        **queue.scheduler_configuration)


def chat_jobs(queue: Jobs, chat_id: int) -> list[str]:
    """Names of a chat's scheduled digest jobs (for /settings feedback and tests)."""
    prefix = f"digest:{chat_id}:"
    return sorted(j.name for j in queue.jobs() if j.name and j.name.startswith(prefix))


def latest_due(chat: Chat, now: datetime) -> datetime | None:
    """The most recent of the chat's digest times at or before ``now`` (aware, UTC)."""
    zone = ZoneInfo(chat.timezone)
    today = now.astimezone(zone).date()
    moments = [datetime.combine(day, parse_time(at, chat.timezone).replace(tzinfo=None),
                                tzinfo=zone).astimezone(UTC)
               for at in chat.times for day in (today, today - timedelta(days=1))]
    past = [m for m in moments if m <= now]
    return max(past) if past else None


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A chat's scheduled digest: queue what is new (if anything) and wake delivery."""
    svc = services(context)
    assert context.job is not None and context.job.chat_id is not None
    chat = svc.store.get_chat(context.job.chat_id)
    if chat is None or not chat.subscribed:
        return
    now = datetime.now(UTC)
    due = latest_due(chat, now)
    if due is not None and chat.last_due_at is not None and chat.last_due_at >= due:
        return  # served already (by the start-up catch-up)
    queue_digest(svc, chat, now, due=due)


def catch_up(svc: Services, now: datetime) -> int:
    """At start-up: send the digests whose time passed while the bot was down, when that
    was at most ``digest.catch_up_minutes`` ago. Older ones are left to the next digest,
    which covers the gap (unsent stories stay candidates up to ``digest.max_age_hours``).
    Returns how many chats were caught up."""
    grace = timedelta(minutes=svc.settings.digest.catch_up_minutes)
    served = 0
    for chat in svc.store.subscribed_chats():
        due = latest_due(chat, now)
        if due is None or now - due > grace:
            continue
        if chat.last_due_at is not None and chat.last_due_at >= due:
            continue
        if chat.subscribed_at is not None and chat.subscribed_at >= due:
            continue  # subscribed after that time: its first digest is the next one
        log.info("catching up the %s digest of chat %s", due.isoformat(), chat.id)
        queue_digest(svc, chat, now, due=due)
        served += 1
    return served


def job_queue(context: ContextTypes.DEFAULT_TYPE) -> Jobs:
    if context.job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    queue: Jobs = context.job_queue  # type: ignore[assignment]  # PTB types it loosely
    return queue
