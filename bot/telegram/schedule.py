"""Scheduled work on PTB's JobQueue: the feed refresh and each chat's digests.

Jobs are named by chat (``digest:<chat id>:<HH:MM>``) so a chat's schedule can be replaced
as a whole; they are rebuilt from the database at start, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes, JobQueue

from bot.digest import TelegramHTML, render_digest
from bot.models import Chat
from bot.pipeline import refresh
from bot.store import Store
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
            log.info("refresh: %d new articles, %d feeds failed, %d sentences translated, "
                     "%d from cache", report.new_articles, report.failed_feeds,
                     report.sentences_translated, report.cache_hits)
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


def chat_jobs(queue: Jobs, chat_id: int) -> list[str]:
    """Names of a chat's scheduled digest jobs (for /settings feedback and tests)."""
    prefix = f"digest:{chat_id}:"
    return sorted(j.name for j in queue.jobs() if j.name and j.name.startswith(prefix))


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A chat's scheduled digest: queue what is new (if anything) and wake delivery."""
    svc = services(context)
    assert context.job is not None and context.job.chat_id is not None
    chat = svc.store.get_chat(context.job.chat_id)
    if chat is None or not chat.subscribed:
        return
    queue_digest(svc, chat, datetime.now(UTC))


def queue_digest(svc: Services, chat: Chat, now: datetime) -> int:
    """Write the chat's next digest to the outbox; returns how many articles it holds.

    Items are those not yet sent to this chat that arrived since its previous digest (the
    last 24 hours for a first digest), newest first, at most the chat's item count.
    """
    since = chat.last_digest_at or now - timedelta(hours=24)
    articles = svc.store.digest_candidates(chat, since=since, limit=chat.max_items)
    if not articles:
        return 0
    messages = render_digest(articles, TelegramHTML(), now=now, timezone=chat.timezone)
    svc.store.queue_digest(chat.id, [a.id for a in articles], messages, now)
    svc.outbox.notify()
    return len(articles)


def job_queue(context: ContextTypes.DEFAULT_TYPE) -> Jobs:
    if context.job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    queue: Jobs = context.job_queue  # type: ignore[assignment]  # PTB types it loosely
    return queue
