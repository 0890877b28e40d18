"""Translate-and-store windows: the second half of a refresh (see :mod:`bot.pipeline`).

Collected feeds (fetched, parsed, deduplicated, extracted) arrive in :class:`ReadyFeeds` as
they finish; :meth:`ReadyFeeds.next_window` waits for one, adds those already waiting and cuts
their articles into a :class:`Window` of at most ``WINDOW_CHARS`` characters of source text
(one article at least). :class:`WindowWriter` translates a window in one call per source
language (each with its pair's model, :mod:`bot.translators`; a language without a model is
stored untranslated and marked) and stores it in short transactions, then records the feeds
the window completed. A feed takes a slot when its collection starts and gives it back when
its articles are taken for a window, so at most ``limit`` feeds' articles wait in memory,
whatever the number of new articles.

Every write here goes through :func:`write` / :func:`patiently`: under
:func:`bot.store.base.fail_fast_on_lock` a locked database raises at once, and the wait before
trying again is an ``asyncio.sleep``, never a sleep on the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from bot.config import Settings
from bot.errors import StoreError, TranslateError
from bot.languages import needs_model
from bot.models import Article, Entry, FeedState, Translation
from bot.store import Store, StoredArticle
from bot.store.base import LOCK_RETRY_DELAYS, StoreBusy
from bot.stories import StoryAssigner
from bot.translate import Translator
from bot.translators import Translators

if TYPE_CHECKING:
    from bot.pipeline import FeedReport, RefreshReport

log = logging.getLogger(__name__)
T = TypeVar("T")

# Source characters per window: about 400 news sentences, two full chunks of model batches.
WINDOW_CHARS = 80_000
# Articles a failed model left untranslated, translated again per refresh (newest first),
# among those fetched within RETRY_WINDOW (the ``fetched`` index bounds the search).
RETRY_LIMIT = 100
RETRY_WINDOW = timedelta(days=7)
# Articles per transaction: each write, and each article's story assignment, is one short
# turn of the event loop (tens of milliseconds), however large the window.
STORE_SLICE = 10
MAX_BACKOFF = timedelta(hours=24)
LEAD_SENTENCES = 2
LONG_FIRST_SENTENCE = 220


@dataclass
class Collected:
    """A feed after fetch, parse, dedupe and extract; ``pending`` shrinks as windows take it."""

    feed: FeedState
    report: FeedReport
    pending: list[Pending] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None


@dataclass
class Pending:
    """A new article on its way to the store."""

    owner: Collected
    entry: Entry
    text: str
    language: str
    translation: tuple[Translation, Translation] | None = None
    model: str = ""     # the id of the model that translated it

    @property
    def size(self) -> int:
        return len(self.entry.title) + len(self.text)


@dataclass
class Window:
    """Articles translated in one call and stored together, and the feeds they complete."""

    pending: list[Pending] = field(default_factory=list)
    done: list[Collected] = field(default_factory=list)
    chars: int = 0

    def add(self, item: Collected, budget: int) -> bool:
        """Move the feed's next articles in while they fit (one at least into an empty
        window); True when all of them are in, and the feed completes with this window."""
        taken = 0
        for pending in item.pending:
            if self.pending and self.chars + pending.size > budget:
                break
            self.pending.append(pending)
            self.chars += pending.size
            taken += 1
        del item.pending[:taken]
        if item.pending:
            return False
        self.done.append(item)
        return True


class ReadyFeeds:
    """Feeds from collection to windows; at most ``limit`` collected or waiting at once."""

    def __init__(self, expected: int, limit: int, budget: int | None = None) -> None:
        self._expected = expected  # feeds not yet taken
        self._budget = budget or WINDOW_CHARS
        self._slots = asyncio.Semaphore(max(1, limit))
        self._queue: asyncio.Queue[Collected | None] = asyncio.Queue()
        self._current: Collected | None = None  # a feed only partly in windows so far

    async def collect(self, job: Callable[[], Awaitable[Collected]]) -> None:
        """Run one feed's collection when a slot is free and queue its result."""
        await self._slots.acquire()
        try:
            item = await job()
        except BaseException:
            self._queue.put_nowait(None)  # counted, so the windows do not wait for it
            raise
        self._queue.put_nowait(item)

    async def next_window(self) -> Window | None:
        """Wait for a ready feed, add the ones already waiting, up to the budget; None
        when every feed went through."""
        window = Window()
        while True:
            item = self._current or await self._take(wait=not (window.pending or window.done))
            if item is None:
                break
            self._current = None
            if not window.add(item, self._budget):
                self._current = item
                break
        return window if window.pending or window.done else None

    async def _take(self, *, wait: bool) -> Collected | None:
        while self._expected and (wait or not self._queue.empty()):
            item = await self._queue.get()
            self._expected -= 1
            self._slots.release()
            if item is not None:
                return item
        return None


class WindowWriter:
    """Translates and stores the windows of one refresh, and what failed models left."""

    def __init__(self, store: Store, translator: Translator, settings: Settings,
                 now: datetime, report: RefreshReport) -> None:
        self.store, self.translator, self.settings = store, translator, settings
        self.translators = Translators.of(translator, settings)
        self.now, self.report = now, report
        self.failed: set[str] = set()   # languages whose model failed in this refresh
        self.stories = StoryAssigner(store, window=timedelta(hours=settings.stories.window_hours),
                                     now=now)

    async def process(self, window: Window) -> None:
        """Dedupe against the store, translate, store; then record the completed feeds."""
        pending = self._unstored(window.pending)
        await self._translate(pending)
        await self._store(pending)
        for item in window.done:
            await self._record(item)

    def _unstored(self, pending: Sequence[Pending]) -> list[Pending]:
        """Cheap before expensive: drop what an earlier window stored (the same article
        through another feed) or this window holds twice. A feed's own entry keys were
        checked when it was collected: canonical URLs are enough here."""
        _, stored = self.store.known_entries(0, [], [p.entry.canonical_url for p in pending])
        fresh: list[Pending] = []
        seen: set[str] = set(stored)
        for item in pending:
            if item.entry.canonical_url not in seen:
                seen.add(item.entry.canonical_url)
                fresh.append(item)
        return fresh

    async def _translate(self, pending: Sequence[Pending]) -> None:
        """Each language's articles with its pair's model, in one call per language; those
        of a pair without a model stay untranslated (marked so when stored)."""
        todo = [p for p in pending
                if needs_model(p.language, self.settings) and not p.owner.report.error]
        for language in dict.fromkeys(p.language for p in todo):
            translator = await self.translators.for_language(language)
            if translator is not None:
                await self._translate_group([p for p in todo if p.language == language],
                                            translator)

    async def _translate_group(self, todo: list[Pending], translator: Translator) -> None:
        try:
            results = await self._run_model(
                translator, [t for p in todo for t in (p.entry.title, p.text)])
        except StoreError as exc:  # the sentence cache could not be written (disk full...)
            for item in todo:  # these feeds fail this turn; nothing half-done is stored
                item.owner.report.error = item.owner.report.error or str(exc)
            return
        if results is not None:
            for index, item in enumerate(todo):
                item.translation = (results[2 * index], results[2 * index + 1])
                item.model = translator.model.id

    async def _run_model(self, translator: Translator,
                         texts: list[str]) -> list[Translation] | None:
        """One translate call; None when the model failed (the texts stay untranslated)."""
        if not texts:
            return []
        started = time.perf_counter()
        try:
            return await patiently(lambda: translator.translate(texts))
        except StoreError:
            raise
        except TranslateError as exc:  # the model is missing or broken, or the engine failed
            reason = str(exc)
        except Exception as exc:  # a library surprise: contained like a model failure
            log.exception("translation failed unexpectedly")
            reason = f"translate: internal error: {type(exc).__name__}"
        finally:
            self.report.translate_seconds += time.perf_counter() - started
        log.error("%s; %d texts stored untranslated for a later refresh", reason, len(texts))
        self.report.translate_error = reason
        self.failed.add(translator.model.source)
        return None

    async def _store(self, pending: Sequence[Pending]) -> None:
        """Each feed's articles, STORE_SLICE per transaction, then their stories."""
        for owner, items in _by_owner(pending):
            for start in range(0, len(items), STORE_SLICE):
                if owner.report.error:
                    break  # failed in an earlier stage, window or slice: validators stay
                articles = [_article(p, self.now) for p in items[start:start + STORE_SLICE]]
                try:
                    await self._store_slice(owner, articles)
                except StoreError as exc:
                    log.error("feed %s: %s", owner.feed.url, exc)
                    owner.report.error = str(exc)

    async def _store_slice(self, owner: Collected, articles: list[Article]) -> None:
        stored = await write(partial(self.store.insert_articles, articles))
        owner.report.new += len(stored)
        owner.report.untranslated += sum(1 for a in articles
                                         if a.id is not None and a.untranslated)
        self.report.new_article_ids += stored
        for article in articles:
            if article.id is not None:
                await self._assign_story(article)

    async def _assign_story(self, article: Article) -> None:
        """A bug in story assignment must not cost the feed its articles."""
        try:
            await write(partial(self.stories.assign, [article]))
        except StoreError:
            raise  # the database failing is this feed's error, as for any store failure
        except Exception:
            log.exception("story assignment failed; the article stays on its own")

    async def _record(self, item: Collected) -> None:
        """The feed's outcome, once all its articles are stored (validators last: a crash
        before them only refetches)."""
        try:
            if item.report.error:
                await write(partial(self.store.record_fetch_failure, item.feed.id, self.now,
                                    item.report.error, _next_check(item, self.settings, self.now)))
            else:
                await write(partial(self.store.record_fetch_success, item.feed.id, self.now,
                                    etag=item.etag, last_modified=item.last_modified))
        except StoreError as exc:
            log.error("feed %s: %s", item.feed.url, exc)
            item.report.error = item.report.error or str(exc)
        self.report.feeds.append(item.report)

    async def retry_untranslated(self) -> None:
        """Translate what a failed or missing model left untranslated, RETRY_LIMIT articles
        a language a refresh: the source language's, and those of other languages whose
        pair has a model now (a missing one costs a look at the models folder, no retry);
        not a language whose model failed in this refresh already."""
        since = self.now - RETRY_WINDOW
        source = self.settings.translation.source
        others = [lang for lang in self.store.untranslated_languages(since)
                  if lang != source and needs_model(lang, self.settings)]
        for language in [source, *others]:
            if language in self.failed:
                continue
            translator = await self.translators.for_language(language)
            if translator is not None:
                await self._retry(language, translator, since)

    async def _retry(self, language: str, translator: Translator, since: datetime) -> None:
        stale = self.store.untranslated_articles(language, since=since, limit=RETRY_LIMIT)
        for batch in _cut(stale, lambda a: len(a.title_original) + len(a.text_original)):
            texts = [t for a in batch for t in (a.title_original, a.text_original)]
            try:
                results = await self._run_model(translator, texts)
                if results is None:
                    return
                model = translator.model.id
                filled = [_filled(a, results[2 * i], results[2 * i + 1], model)
                          for i, a in enumerate(batch)]
                self.report.retranslated += await write(
                    partial(self.store.fill_translations, filled))
            except StoreError as exc:
                log.warning("untranslated articles stay so for now: %s", exc)
                return


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()``; while another connection holds the write lock (:class:`StoreBusy`),
    wait with ``asyncio.sleep`` and call again. The last failure is a StoreError."""
    for delay in LOCK_RETRY_DELAYS:
        try:
            return await call()
        except StoreBusy:
            log.info("database busy; trying again in %.2fs", delay)
            await asyncio.sleep(delay)
    return await call()


async def write(call: Callable[[], T]) -> T:
    """One short store write in a turn of the event loop of its own, retried off the loop
    while the database is locked."""
    async def once() -> T:
        await asyncio.sleep(0)  # what else is ready runs first
        return call()

    return await patiently(once)


def lead_of(translation: Translation) -> str:
    """The first one or two translated sentences of the body."""
    sentences = [s for s in translation.sentences if s.strip()]
    if not sentences:
        return ""
    count = 1 if len(sentences[0]) >= LONG_FIRST_SENTENCE else LEAD_SENTENCES
    return " ".join(sentences[:count])


def _by_owner(pending: Sequence[Pending]) -> Iterator[tuple[Collected, list[Pending]]]:
    """A window's articles feed by feed (a feed's articles are next to each other)."""
    for _, group in itertools.groupby(pending, key=lambda p: id(p.owner)):
        items = list(group)
        yield items[0].owner, items


def _cut(articles: Sequence[StoredArticle],
         size: Callable[[StoredArticle], int]) -> Iterator[list[StoredArticle]]:
    batch: list[StoredArticle] = []
    used = 0
    for article in articles:
        if batch and used + size(article) > WINDOW_CHARS:
            yield batch
            batch, used = [], 0
        batch.append(article)
        used += size(article)
    if batch:
        yield batch


def _next_check(item: Collected, settings: Settings, now: datetime) -> datetime:
    """Exponential back-off per feed, or the server's Retry-After when longer."""
    interval = timedelta(minutes=settings.fetch.interval_minutes)
    backoff = min(interval * (1 << min(item.feed.error_count, 10)), MAX_BACKOFF)
    if item.retry_after:
        backoff = max(backoff, timedelta(seconds=item.retry_after))
    return now + backoff


def _article(item: Pending, now: datetime) -> Article:
    article = Article(
        # Readers get the clean link: tracking parameters stripped, fragment dropped.
        feed_id=item.owner.feed.id, key=item.entry.key, url=item.entry.canonical_url,
        canonical_url=item.entry.canonical_url, published=item.entry.published, fetched=now,
        language=item.language, title_original=item.entry.title, text_original=item.text,
    )
    if item.translation is None:  # in the target language, or no model (then retried later)
        article.untranslated = True
        return article
    _translated(article, *item.translation, item.model)
    return article


def _filled(stored: StoredArticle, title: Translation, body: Translation,
            model: str) -> Article:
    """The update of an article stored untranslated (only its id and translation count)."""
    article = Article(
        feed_id=stored.feed_id, key="", url=stored.url, canonical_url=stored.url,
        published=stored.published, fetched=stored.fetched, language=stored.language,
        title_original=stored.title_original, text_original=stored.text_original,
        id=stored.id)
    _translated(article, title, body, model)
    return article


def _translated(article: Article, title: Translation, body: Translation, model: str) -> None:
    article.title_translated, article.text_translated = title.text, body.text
    article.lead = lead_of(body)
    article.model = model
    article.untranslated = bool(title.untranslated or body.untranslated)
