"""Scheduled work on PTB's JobQueue: the feed refresh, one ticking job for all digests, and
the daily tidy of the search index.

Each subscribed chat stores its next digest time (see :mod:`bot.due`). The ``digests`` job
wakes every ``TICK`` and serves the chats whose time has come, earliest first, in batches
(:func:`bot.digests.serve_batches`, which also applies the catch-up rules): nothing is built
per chat at start-up, and chats due in the same second are one indexed query, not one job
each. The refresh job queues the alerts its new articles trigger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram.ext import Application, ContextTypes, JobQueue

from bot.digests import alert_new_articles, serve_batches
from bot.errors import StoreError
from bot.pipeline import refresh
from bot.store.index import tidy_index
from bot.telegram.services import Services, services
from bot.telegram.webhook import start_updates

Jobs = JobQueue[ContextTypes.DEFAULT_TYPE]

log = logging.getLogger(__name__)
FIRST_REFRESH = timedelta(seconds=2)
# A digest arrives at most one tick after its time. Tests of the running bot (in process or
# as `python -m bot run`) shorten it through the environment instead of waiting.
TICK = timedelta(seconds=30)
TICK_ENV = "NASHRA_DIGEST_TICK_SECONDS"
# Late runs (busy loop) still run, once: the tick itself applies the catch-up limit. A tick
# that finds the previous one still serving (10,000 chats take longer than a tick) returns at
# once; two instances are allowed so that APScheduler does not log each such turn as skipped.
TICK_JOB = {"max_instances": 2, "coalesce": True, "misfire_grace_time": None}
# Telegram's rate (30 messages a second) is the bot's: with `nashra bot` processes the
# leader delivers at this share of it and a stand-by at the rest. A stand-by's share is
# small but not nothing, so a /digest it answers is not held until the leader's next tick.
LEADER_SHARE = 0.9
TIDY_EVERY = timedelta(days=1)
FIRST_TIDY = timedelta(hours=1)


def schedule_refresh(queue: Jobs, minutes: int) -> None:
    """Refresh every fetch.interval_minutes; a turn that finds the previous refresh still
    running returns at once (see ``TICK_JOB``)."""
    queue.run_repeating(refresh_job, interval=timedelta(minutes=minutes),
                              first=FIRST_REFRESH, name="refresh",
                              job_kwargs={"max_instances": 2, "coalesce": True})


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
            alerts = alert_new_articles(svc, svc.last_refresh)
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


# the tick ---------------------------------------------------------------------------------


def tick_interval(environ: Mapping[str, str] = os.environ) -> timedelta:
    """``TICK``, or the shorter interval tests set in ``$NASHRA_DIGEST_TICK_SECONDS``."""
    value = environ.get(TICK_ENV)
    return max(timedelta(seconds=float(value)), timedelta(seconds=0.1)) if value else TICK


def schedule_digests(queue: Jobs, interval: timedelta = TICK) -> None:
    """The ``digests`` tick, and one pass right at start for times due while the bot was
    down. (An interval job whose first run is already past when the scheduler starts would
    wait a whole interval; a one-off job runs however late.)"""
    queue.run_once(digest_job, when=timedelta(0), name="digests:start", job_kwargs=TICK_JOB)
    queue.run_repeating(digest_job, interval=interval, first=interval, name="digests",
                        job_kwargs=TICK_JOB)


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """In the leading process: alert new articles, serve every chat due now (other
    handlers and delivery run between chats)."""
    svc = services(context)
    if svc.tick_lock.locked():
        log.debug("the previous digest tick is still serving chats")
        return
    async with svc.tick_lock:
        # Another process may have queued messages (its digests, a worker's alerts): each
        # tick, delivery looks at the queue whether this process leads or not.
        svc.outbox.notify()
        if not await lead(context.application, svc):
            return
        if not svc.refresh_lock.locked():  # a refresh of this process alerts when it ends
            alert_new_articles(svc, datetime.now(UTC))
        for _served in serve_batches(svc, datetime.now(UTC)):
            await asyncio.sleep(0)


async def lead(app: Application[Any, Any, Any, Any, Any, Any], svc: Services) -> bool:
    """Whether this process leads (schedules) now. A `nashra bot` process in polling mode
    polls while it leads and stops when it no longer does."""
    leading = svc.leader.held() if svc.leader is not None else True
    if svc.role.shares_delivery:
        svc.outbox.set_share(LEADER_SHARE if leading else 1.0 - LEADER_SHARE)
    updater = app.updater
    if svc.role.polls_when_leading and updater is not None and not svc.stopping:
        if leading and not updater.running:
            await start_updates(app, None)   # polling mode: webhooks reach every process
        elif not leading and updater.running:
            log.warning("no longer leading: long polling stopped")
            await updater.stop()
    return leading


# the tidy ---------------------------------------------------------------------------------


def schedule_tidy(queue: Jobs) -> None:
    """Merge the search index into one piece once a day, first an hour after start."""
    queue.run_repeating(tidy_job, interval=TIDY_EVERY, first=FIRST_TIDY, name="tidy",
                        job_kwargs={"max_instances": 1, "coalesce": True})


async def tidy_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The daily tidy (:func:`bot.store.index.tidy_index`), in a worker thread."""
    await run_tidy(services(context))


async def run_tidy(svc: Services) -> int:
    start = time.perf_counter()
    try:
        steps = await asyncio.to_thread(tidy_index, svc.store.path)
    except StoreError as exc:
        log.warning("search index not tidied: %s", exc)
        return 0
    if steps:
        log.info("search index merged into one piece in %.1f s", time.perf_counter() - start)
    return steps
