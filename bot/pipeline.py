"""One refresh: fetch → parse → dedupe → extract → translate → store.

The only module that knows the order of the stages. Cheap checks come first (304, known
entries) so that extraction and translation only ever see new articles. A failure belongs to
one feed (or one article) and is recorded there; the rest of the refresh goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.errors import ExtractError, FetchError, StageError, StoreError
from bot.extract import extract_text
from bot.fetch import Fetcher
from bot.models import Article, Entry, FeedState, FetchResult, Translation
from bot.parse import parse_feed
from bot.store import Store
from bot.stories import StoryAssigner, prune
from bot.textnorm import arabic_ratio
from bot.translate import Translator

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=24)
MIN_ARABIC_SHARE = 0.5
LEAD_SENTENCES = 2
LONG_FIRST_SENTENCE = 220
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

    @property
    def new_articles(self) -> int:
        return sum(feed.new for feed in self.feeds)

    @property
    def failed_feeds(self) -> int:
        return sum(1 for feed in self.feeds if feed.error)


@dataclass
class _Pending:
    """A new entry on its way to the store."""

    feed: FeedState
    entry: Entry
    text: str
    language: str
    translation: tuple[Translation, Translation] | None = None


@dataclass
class _Collected:
    feed: FeedState
    report: FeedReport
    pending: list[_Pending] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None


ProgressCallback = Callable[[FeedReport], None]


async def refresh(settings: Settings, store: Store, fetcher: Fetcher,
                  translator: Translator, *, force: bool = False,
                  progress: ProgressCallback | None = None,
                  now: datetime | None = None) -> RefreshReport:
    """Run every due feed through the pipeline once and store what is new."""
    now = now or datetime.now(UTC)
    feeds = store.sync_feeds(settings.feeds, now)
    report = RefreshReport(model=translator.model.id)
    due: list[FeedState] = []
    for feed in feeds:
        if force or feed.next_check is None or feed.next_check <= now:
            due.append(feed)
        else:
            report.feeds.append(FeedReport(feed.name, feed.url, postponed_until=feed.next_check,
                                           error=feed.last_error))
    collected = await asyncio.gather(
        *(_collect(feed, store, fetcher, settings, now, progress) for feed in due))
    pending = _drop_duplicates([p for c in collected for p in c.pending])
    hits_before, misses_before = translator.hits, translator.misses
    try:
        await _translate(pending, translator)
    except StoreError as exc:  # the sentence cache could not be written (disk full...)
        pending = _fail_pending(collected, pending, exc)
    report.cache_hits = translator.hits - hits_before
    report.sentences_translated = translator.misses - misses_before
    _prune_stories(store, settings, now)
    stories = StoryAssigner(store, window=timedelta(hours=settings.stories.window_hours),
                            now=now)
    for item in collected:
        report.new_article_ids += _store_feed(
            item, [p for p in pending if p.feed.id == item.feed.id], store,
            translator.model.id, settings, now, stories)
        report.feeds.append(item.report)
    order = {feed.url: index for index, feed in enumerate(feeds)}
    report.feeds.sort(key=lambda feed_report: order[feed_report.url])
    return report


async def _collect(feed: FeedState, store: Store, fetcher: Fetcher, settings: Settings,
                   now: datetime, progress: ProgressCallback | None) -> _Collected:
    """Fetch, parse, dedupe and extract one feed; a failure is recorded on its report."""
    item = _Collected(feed, FeedReport(feed.name, feed.url))
    public_only = feed.origin == "user" and not settings.fetch.allow_private
    try:
        result = await _fetch_feed(feed, store, fetcher, public_only)
        item.etag, item.last_modified = result.etag or feed.etag, result.last_modified
        if result.not_modified:
            item.report.not_modified = True
            item.last_modified = item.last_modified or feed.last_modified
        else:
            # feedparser is CPU-heavy on big documents: keep it off the event loop.
            parsed = await asyncio.to_thread(parse_feed, result.body, result.headers,
                                             result.url, now, settings.fetch.max_entries)
            # Items without an http(s) link can be neither opened by readers nor deduplicated.
            usable = [entry for entry in parsed.entries if entry.canonical_url]
            item.report.dropped = len(parsed.entries) - len(usable)
            new_entries = _new_entries(feed, usable, store)
            item.report.skipped = len(usable) - len(new_entries)
            item.pending = await _extract_all(feed, new_entries, fetcher, settings,
                                              item.report, public_only)
        _remember_move(feed, result.moved_to, store, item.report)
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
            store.record_feed_moved(feed.id, None)  # next time, back to the feed's own URL
        raise


def _remember_move(feed: FeedState, moved_to: str | None, store: Store,
                   report: FeedReport) -> None:
    """A 301/308 from a document that parsed: fetch the new address from now on."""
    if moved_to and moved_to != (feed.fetch_url or feed.url):
        store.record_feed_moved(feed.id, moved_to)
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


async def _extract_all(feed: FeedState, entries: Sequence[Entry], fetcher: Fetcher,
                       settings: Settings, report: FeedReport,
                       public_only: bool) -> list[_Pending]:
    min_chars = settings.fetch.min_text_chars
    texts = await asyncio.gather(
        *(_article_text(entry, fetcher, min_chars, public_only) for entry in entries))
    pending: list[_Pending] = []
    for entry, (text, failed) in zip(entries, texts, strict=True):
        report.extract_failures += failed
        if not (entry.title or text):
            continue
        share = arabic_ratio(entry.title + " " + text)
        language = settings.translation.source if share >= MIN_ARABIC_SHARE else "und"
        pending.append(_Pending(feed, entry, text, language))
    return pending


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
        # trafilatura is CPU-heavy on large pages: keep it off the event loop.
        text = await asyncio.to_thread(extract_text, page.body, page.url, content_type)
    except (FetchError, ExtractError):
        return entry.text, True
    return (text if len(text) > len(entry.text) else entry.text), False


def _drop_duplicates(pending: list[_Pending]) -> list[_Pending]:
    """The same article reached through two feeds in one refresh is stored once."""
    seen: set[str] = set()
    unique: list[_Pending] = []
    for item in pending:
        if item.entry.canonical_url not in seen:
            seen.add(item.entry.canonical_url)
            unique.append(item)
    return unique


async def _translate(pending: Sequence[_Pending], translator: Translator) -> None:
    """One batched call for every title and text of this refresh."""
    todo = [p for p in pending if p.language != "und"]
    texts = [t for p in todo for t in (p.entry.title, p.text)]
    if not texts:
        return
    results = await translator.translate(texts)
    for index, item in enumerate(todo):
        item.translation = (results[2 * index], results[2 * index + 1])


def _fail_pending(collected: Sequence[_Collected], pending: list[_Pending],
                  exc: StoreError) -> list[_Pending]:
    """Every feed with new articles fails this turn; nothing half-done is stored."""
    failed = {p.feed.id for p in pending}
    for item in collected:
        if item.feed.id in failed and not item.report.error:
            item.report.error = str(exc)
    return []


def _store_feed(item: _Collected, pending: Sequence[_Pending], store: Store, model: str,
                settings: Settings, now: datetime, stories: StoryAssigner) -> list[int]:
    """Store new articles first, then the validators: a crash in between only refetches.

    A database failure (disk full, locked too long) is this feed's error; what was stored
    before stays, and the unchanged validators make the next refresh try again. Returns the
    ids of the articles stored.
    """
    stored: list[int] = []
    try:
        if item.report.error:
            store.record_fetch_failure(item.feed.id, now, item.report.error,
                                       _next_check(item, settings, now))
            return stored
        articles = [_article(p, model, now) for p in pending]
        stored = store.insert_articles(articles)
        item.report.new = len(stored)
        item.report.untranslated = sum(1 for a in articles if a.untranslated)
        _assign_stories(stories, articles)
        store.record_fetch_success(item.feed.id, now, etag=item.etag,
                                   last_modified=item.last_modified)
    except StoreError as exc:
        log.error("feed %s: %s", item.feed.url, exc)
        item.report.new = len(stored)
        item.report.error = item.report.error or str(exc)
    return stored


def _assign_stories(stories: StoryAssigner, articles: Sequence[Article]) -> None:
    """Stories for the articles just stored; a bug here must not cost the feed its articles."""
    try:
        stories.assign([a for a in articles if a.id is not None])
    except StoreError:
        raise  # the database failing is this feed's error, as for any store failure
    except Exception:
        log.exception("story assignment failed; the articles stay on their own")


def _prune_stories(store: Store, settings: Settings, now: datetime) -> None:
    """Forget the story index of articles that left the window, once per refresh."""
    try:
        prune(store, window=timedelta(hours=settings.stories.window_hours), now=now)
    except StoreError as exc:
        log.warning("could not prune the story index: %s", exc)
    except Exception:
        log.exception("pruning the story index failed")


def _next_check(item: _Collected, settings: Settings, now: datetime) -> datetime:
    """Exponential back-off per feed, or the server's Retry-After when longer."""
    interval = timedelta(minutes=settings.fetch.interval_minutes)
    backoff = min(interval * (1 << min(item.feed.error_count, 10)), MAX_BACKOFF)
    if item.retry_after:
        backoff = max(backoff, timedelta(seconds=item.retry_after))
    return now + backoff


def lead_of(translation: Translation) -> str:
    """The first one or two translated sentences of the body."""
    sentences = [s for s in translation.sentences if s.strip()]
    if not sentences:
        return ""
    count = 1 if len(sentences[0]) >= LONG_FIRST_SENTENCE else LEAD_SENTENCES
    return " ".join(sentences[:count])


def _article(item: _Pending, model: str, now: datetime) -> Article:
    article = Article(
        # Readers get the clean link: tracking parameters stripped, fragment dropped.
        feed_id=item.feed.id, key=item.entry.key, url=item.entry.canonical_url,
        canonical_url=item.entry.canonical_url, published=item.entry.published, fetched=now,
        language=item.language, title_original=item.entry.title, text_original=item.text,
    )
    if item.translation is None:
        article.untranslated = True
        return article
    title, body = item.translation
    article.title_translated, article.text_translated = title.text, body.text
    article.lead = lead_of(body)
    article.model = model
    article.untranslated = bool(title.untranslated or body.untranslated)
    return article
