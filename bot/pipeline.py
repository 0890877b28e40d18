"""One refresh: fetch → parse → dedupe → extract → translate → store, window by window.

The only module that knows the order of the stages. Cheap checks come first (304, known
entries) so that extraction and translation only ever see new articles. A failure belongs to
one feed (or one article) and is recorded there; the rest of the refresh goes on.

Feeds are collected (fetch, parse, dedupe, extract) in parallel, at most
``fetch.concurrency`` at once; as each is ready its articles join the next translate-and-store
window (:mod:`bot.refresh_windows`): at most ``WINDOW_CHARS`` characters of source text from
the feeds ready by then, translated in one call and stored at once. So articles reach the
database while slower feeds are still fetching, a ``kill -9`` loses at most the window in
flight, and memory depends on the window and the concurrency, not on how many articles are
new. A feed's validators are stored after its last article: a crash in between only refetches.

A translation failure (model missing or broken, engine error) costs no feed anything: the
window's articles are stored untranslated, without a model, and a later refresh translates
them again (``RETRY_LIMIT`` a refresh). A database failure is the error of the feeds of the
window it hit; their validators stay, so the next refresh tries again.

The event loop is never put to sleep on a locked database, and never held long. Writes stay
on the loop (the store is single-threaded) and short: at most ``STORE_SLICE`` articles of one
feed per transaction, each write and each article's story assignment a turn of the loop of
its own. The whole refresh runs under :func:`bot.store.base.fail_fast_on_lock`, so a write
that finds another connection holding the lock raises at once (no busy_timeout, no
``time.sleep``), and :func:`bot.refresh_windows.write` waits with ``asyncio.sleep`` before
trying again. The flag is a context variable: it covers this task and the tasks it starts,
not the bot's other handlers. A translation whose cache write met the lock is run again (its
sentences were not cached): CPU spent again rather than the loop blocked. Parsing,
extraction and language detection run in one worker thread (more would only take the GIL
from the loop for longer); translation runs in the translator's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from bot import languages, metrics
from bot.config import Settings
from bot.errors import ExtractError, FetchError, StageError, StoreError
from bot.extract import extract_text
from bot.feed_health import review as review_health
from bot.feed_leases import FeedClaim, HeldFeeds
from bot.fetch import Fetcher
from bot.models import Entry, FeedState, FetchResult
from bot.parse import parse_feed
from bot.refresh_windows import Collected, Pending, ReadyFeeds, WindowWriter, write
from bot.store import Store
from bot.store.base import fail_fast_on_lock
from bot.stories import prune
from bot.translate import Translator
from bot.translators import Translators

log = logging.getLogger(__name__)
T = TypeVar("T")
# A feed's articles of this long ago tell the language of one too short to detect (a read
# on the loop, bounded by the ``fetched`` index: a few days are enough).
RECENT_LANGUAGES = timedelta(days=3)
# feedparser and trafilatura are CPU-heavy Python: they run off the event loop, one at a time.
# More threads would not parse faster (they share the GIL) but would hold the GIL the event
# loop needs for longer between its turns.
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nashra-parse")
# A feed's new address that answers with one of these is forgotten (back to the original).
_GONE = frozenset({404, 410})


@dataclass
class FeedReport:
    """What one refresh did for one feed; ``error`` is a one-line reason."""

    name: str
    url: str
    new: int = 0
    skipped: int = 0
    untranslated: int = 0
    extract_failures: int = 0
    not_modified: bool = False
    postponed_until: datetime | None = None
    error: str | None = None
    dropped: int = 0                # items without an http(s) link
    moved_to: str | None = None     # the feed permanently moved there (fetched from now on)


@dataclass
class RefreshReport:
    feeds: list[FeedReport] = field(default_factory=list)
    sentences_translated: int = 0
    cache_hits: int = 0
    model: str = ""
    new_article_ids: list[int] = field(default_factory=list)   # every article stored, in order
    claimed: int = 0                 # due feeds this process leased (others: another's)
    retranslated: int = 0            # articles stored untranslated earlier, translated now
    translate_error: str | None = None   # why the model failed (those articles: retried later)
    translate_seconds: float = 0.0   # spent in translate calls (the model and the cache)

    @property
    def new_articles(self) -> int:
        return sum(feed.new for feed in self.feeds)

    @property
    def failed_feeds(self) -> int:
        return sum(1 for feed in self.feeds if feed.error)


ProgressCallback = Callable[[FeedReport], None]


async def refresh(settings: Settings, store: Store, fetcher: Fetcher,
                  translator: Translator, *, force: bool = False,
                  progress: ProgressCallback | None = None,
                  now: datetime | None = None, claim: FeedClaim | None = None,
                  started: Callable[[RefreshReport], None] | None = None) -> RefreshReport:
    """Run the due feeds this process can lease (``claim``) through the pipeline once and
    store what is new. ``started`` sees the report (filled as the refresh goes) once the
    feeds to fetch are known."""
    now = now or datetime.now(UTC)
    report = RefreshReport(model=translator.model.id)
    pool = Translators.of(translator, settings)   # and the other language pairs' models
    hits_before, misses_before = pool.hits, pool.misses
    with fail_fast_on_lock():  # a locked database is waited for off the loop
        feeds = await write(partial(store.sync_feeds, settings.feeds, now))
        claim = claim or FeedClaim(lease=timedelta(seconds=settings.fetch.lease_seconds))
        async with HeldFeeds(store, claim) as held:
            due = await held.claim(_due(feeds, report, force, now), now, force)
            report.claimed = len(due)
            if started:
                started(report)
            await _prune_stories(store, settings, now)
            writer = WindowWriter(store, translator, settings, now, report)
            await _run_windows(due, writer, partial(
                _collect, store=store, fetcher=fetcher, settings=settings, now=now,
                progress=progress), settings.fetch.concurrency)
            await writer.retry_untranslated()
            await review_health(store, settings, feeds, report.feeds, now)  # pause / resume
    report.cache_hits = pool.hits - hits_before
    report.sentences_translated = pool.misses - misses_before
    order = {feed.url: index for index, feed in enumerate(feeds)}
    report.feeds.sort(key=lambda feed_report: order[feed_report.url])
    metrics.record_refresh(report)
    return report


async def _run_windows(due: Sequence[FeedState], writer: WindowWriter,
                       collect: Callable[[FeedState], Awaitable[Collected]],
                       concurrency: int) -> None:
    """Collect the feeds, ``concurrency`` at once, and write their articles window by window."""
    ready = ReadyFeeds(len(due), concurrency)
    collecting = [asyncio.create_task(ready.collect(partial(collect, feed))) for feed in due]
    try:
        while window := await ready.next_window():
            await writer.process(window)
    finally:
        await _stop(collecting)


def _due(feeds: Sequence[FeedState], report: RefreshReport, force: bool,
         now: datetime) -> list[FeedState]:
    """The feeds to fetch now; the others are reported as postponed."""
    due: list[FeedState] = []
    for feed in feeds:
        if force or feed.next_check is None or feed.next_check <= now:
            due.append(feed)
        else:
            report.feeds.append(FeedReport(feed.name, feed.url, postponed_until=feed.next_check,
                                           error=feed.last_error))
    return due


async def _stop(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel collections still running (the refresh failed or was cancelled)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _collect(feed: FeedState, *, store: Store, fetcher: Fetcher, settings: Settings,
                   now: datetime, progress: ProgressCallback | None) -> Collected:
    """Fetch, parse, dedupe and extract one feed; a failure is recorded on its report."""
    item = Collected(feed, FeedReport(feed.name, feed.url))
    public_only = feed.origin == "user" and not settings.fetch.allow_private
    try:
        result = await _fetch_feed(feed, store, fetcher, public_only)
        item.etag, item.last_modified = result.etag or feed.etag, result.last_modified
        if result.not_modified:
            item.report.not_modified = True
            item.last_modified = item.last_modified or feed.last_modified
        else:
            parsed = await _off_loop(parse_feed, result.body, result.headers, result.url,
                                     now, settings.fetch.max_entries)
            # Items without an http(s) link can be neither opened by readers nor deduplicated.
            usable = [entry for entry in parsed.entries if entry.canonical_url]
            item.report.dropped = len(parsed.entries) - len(usable)
            new_entries = _new_entries(feed, usable, store)
            item.report.skipped = len(usable) - len(new_entries)
            await _extract_all(item, new_entries, fetcher, settings, public_only, store, now)
        await _remember_move(feed, result.moved_to, store, item.report)
    except FetchError as exc:
        item.report.error, item.retry_after = str(exc), exc.retry_after
    except StageError as exc:
        item.report.error = str(exc)
    except Exception as exc:  # a bug or a library surprise: this feed fails, the rest go on
        log.exception("unexpected failure refreshing %s", feed.url)
        item.report.error = f"internal error: {type(exc).__name__}"
    if progress:
        progress(item.report)
    return item


async def _fetch_feed(feed: FeedState, store: Store, fetcher: Fetcher,
                      public_only: bool) -> FetchResult:
    """Fetch from where the feed moved, else its own URL; a vanished new home is forgotten."""
    try:
        return await fetcher.fetch(feed.fetch_url or feed.url, etag=feed.etag,
                                   last_modified=feed.last_modified, public_only=public_only)
    except FetchError as exc:
        if feed.fetch_url and exc.status in _GONE:
            # next time, back to the feed's own URL
            await write(partial(store.record_feed_moved, feed.id, None))
        raise


async def _remember_move(feed: FeedState, moved_to: str | None, store: Store,
                         report: FeedReport) -> None:
    """A 301/308 from a document that parsed: fetch the new address from now on."""
    if moved_to and moved_to != (feed.fetch_url or feed.url):
        await write(partial(store.record_feed_moved, feed.id, moved_to))
        report.moved_to = moved_to


def _new_entries(feed: FeedState, entries: Sequence[Entry], store: Store) -> list[Entry]:
    known_keys, known_urls = store.known_entries(
        feed.id, [e.key for e in entries], [e.canonical_url for e in entries])
    fresh: list[Entry] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.key in known_keys or entry.canonical_url in known_urls:
            continue
        if entry.canonical_url in seen:
            continue
        seen.add(entry.canonical_url)
        fresh.append(entry)
    return fresh


async def _extract_all(item: Collected, entries: Sequence[Entry], fetcher: Fetcher,
                       settings: Settings, public_only: bool, store: Store,
                       now: datetime) -> None:
    """The new entries' texts (pages fetched for summaries) become the feed's pending."""
    min_chars = settings.fetch.min_text_chars
    texts = await asyncio.gather(
        *(_article_text(entry, fetcher, min_chars, public_only) for entry in entries))
    found = await _languages(item.feed, [
        f"{entry.title}\n{text}" for entry, (text, _) in zip(entries, texts, strict=True)],
        store, settings, now)
    for entry, (text, failed), language in zip(entries, texts, found, strict=True):
        item.report.extract_failures += failed
        if entry.title or text:
            item.pending.append(Pending(item, entry, text, language))


async def _languages(feed: FeedState, texts: list[str], store: Store, settings: Settings,
                     now: datetime) -> list[str]:
    """Each article's source language: the feed's, else detected (off the loop); what
    cannot be detected follows the feed's recent articles (see :mod:`bot.languages`)."""
    if feed.language:
        return languages.fixed(texts, feed.language)
    found = await _off_loop(languages.detect_all, texts, languages.detection_languages(settings))
    recent = (store.recent_languages(feed.id, now - RECENT_LANGUAGES)
              if None in found else {})
    return languages.settle(texts, found, settings, recent)


async def _article_text(entry: Entry, fetcher: Fetcher, min_chars: int,
                        public_only: bool) -> tuple[str, bool]:
    """The entry's own text, or the article page's when the feed only carries a summary.

    Returns the text and whether extraction was attempted and failed (the summary is kept).
    Pages of a user-added feed obey the same public-address rule as the feed itself.
    """
    if len(entry.text) >= min_chars or not entry.url.startswith(("http://", "https://")):
        return entry.text, False
    try:
        page = await fetcher.fetch(entry.url, public_only=public_only)
        content_type = page.headers.get("content-type")
        text = await _off_loop(extract_text, page.body, page.url, content_type)
    except (FetchError, ExtractError):
        return entry.text, True
    return (text if len(text) > len(entry.text) else entry.text), False


async def _off_loop(func: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_PARSER, partial(func, *args))


async def _prune_stories(store: Store, settings: Settings, now: datetime) -> None:
    """Forget the story index of articles that left the window, once per refresh."""
    try:
        await write(partial(prune, store, window=timedelta(hours=settings.stories.window_hours),
                            now=now))
    except StoreError as exc:
        log.warning("could not prune the story index: %s", exc)
    except Exception:
        log.exception("pruning the story index failed")
