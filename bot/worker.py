"""`nashra worker`: fetch → translate → store, in turns, beside any number of other workers.

A turn leases a share of the due feeds (:class:`bot.feed_leases.FeedClaim`: at most
``CLAIM_PER_CONCURRENCY`` × ``fetch.concurrency`` feeds, each fetched at most every
``fetch.interval_minutes``), runs them through :func:`bot.pipeline.refresh` and comes back
for more; when nothing is due it looks again after a short pause. The Telegram side
(scheduling, alerts, delivery) is ``nashra bot``'s: a worker never talks to Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta

from bot.config import Settings
from bot.errors import StoreError
from bot.feed_leases import FeedClaim
from bot.fetch import Fetcher
from bot.pipeline import RefreshReport, refresh
from bot.store import Store
from bot.translate import Translator

log = logging.getLogger(__name__)
CLAIM_PER_CONCURRENCY = 4
MAX_IDLE = timedelta(seconds=30)
STORE_RETRY = timedelta(seconds=5)


@dataclass
class WorkerTotals:
    """What a worker did since it started (printed when it stops)."""

    turns: int = 0
    feeds: int = 0
    articles: int = 0
    failed_feeds: int = 0
    sentences_translated: int = 0
    cache_hits: int = 0

    def add(self, report: RefreshReport) -> None:
        self.turns += 1
        self.feeds += report.claimed
        self.articles += report.new_articles
        self.failed_feeds += report.failed_feeds
        self.sentences_translated += report.sentences_translated
        self.cache_hits += report.cache_hits

    def summary(self, owner: str) -> str:
        return (f"worker {owner} stopped: {self.feeds} feeds refreshed in {self.turns} turns, "
                f"{self.articles} articles stored, {self.failed_feeds} feed failures, "
                f"{self.sentences_translated} sentences translated, "
                f"{self.cache_hits} from cache")


def worker_claim(settings: Settings, owner: str) -> FeedClaim:
    """This worker's share of the due feeds per turn."""
    return FeedClaim(owner=owner, lease=timedelta(seconds=settings.fetch.lease_seconds),
                     limit=CLAIM_PER_CONCURRENCY * settings.fetch.concurrency,
                     min_age=timedelta(minutes=settings.fetch.interval_minutes))


async def work(settings: Settings, store: Store, fetcher: Fetcher, translator: Translator,
               claim: FeedClaim, stop: asyncio.Event) -> WorkerTotals:
    """Refresh turn after turn until ``stop`` is set; a turn in progress is abandoned (its
    leases pass, its stored articles stay)."""
    totals = WorkerTotals()
    idle = min(MAX_IDLE, claim.lease / 2).total_seconds()
    while not stop.is_set():
        turn = asyncio.create_task(refresh(settings, store, fetcher, translator, claim=claim))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({turn, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not turn.done():
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await turn
            break
        pause = idle
        try:
            report = turn.result()
        except StoreError as exc:   # the database is down or refusing: try again shortly
            log.error("worker turn failed: %s", exc)
            pause = STORE_RETRY.total_seconds()
        else:
            totals.add(report)
            if report.claimed:
                _log_turn(report)
                continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
    return totals


def _log_turn(report: RefreshReport) -> None:
    log.info("turn: %d feeds, %d new articles, %d feeds failed, %d sentences translated, "
             "%d from cache", report.claimed, report.new_articles, report.failed_feeds,
             report.sentences_translated, report.cache_hits)


async def work_until_signalled(settings: Settings, store: Store, translator: Translator,
                               claim: FeedClaim, fetcher: Fetcher) -> WorkerTotals:
    """:func:`work` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker %s started", claim.owner)
    async with fetcher:
        return await work(settings, store, fetcher, translator, claim, stop)
