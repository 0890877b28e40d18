"""Plain data passed between stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FetchResult:
    """One HTTP response as the fetch stage hands it on.

    ``not_modified`` is True for a 304; then ``body`` is empty and nothing needs parsing.
    ``url`` is the final URL after redirects; header names are lower-case. ``moved_to`` is
    where 301/308 redirects from the requested URL permanently lead (None when they did not).
    """

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    moved_to: str | None = None


@dataclass(frozen=True)
class Entry:
    """One item of a feed, normalised by the parse stage.

    ``key`` is the stable identity used for dedupe (GUID, else canonical link, else a hash of
    title and date). ``text`` is plain text with paragraphs separated by blank lines; it may be
    only a summary. ``published`` is timezone-aware UTC.
    """

    key: str
    url: str
    canonical_url: str
    title: str
    text: str
    published: datetime


@dataclass(frozen=True)
class ParsedFeed:
    """What the parse stage found in a feed document."""

    title: str
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class Translation:
    """A translated text: its sentences in order, and which of them came from the cache."""

    text: str
    sentences: list[str]
    cache_hits: int = 0
    untranslated: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """An installed Argos package as Nashra uses it."""

    id: str              # stable id stored with articles and the cache, e.g. "ar-en@1.0"
    source: str
    target: str
    version: str
    path: str
    size_bytes: int = 0


@dataclass
class Article:
    """An article ready to store: original text plus its translation."""

    feed_id: int
    key: str
    url: str
    canonical_url: str
    published: datetime
    fetched: datetime
    language: str
    title_original: str
    text_original: str
    title_translated: str = ""
    text_translated: str = ""
    lead: str = ""
    model: str = ""
    untranslated: bool = False   # not in the source language, or the model failed on it
    id: int | None = None


@dataclass(frozen=True)
class FeedState:
    """A feed as the store knows it: identity, conditional-GET validators and health.

    ``url`` is the identity (as configured or added); ``fetch_url`` is where the feed
    permanently moved (a 301/308), fetched instead of ``url`` when set.
    """

    id: int
    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: datetime | None = None
    next_check: datetime | None = None
    error_count: int = 0
    last_error: str | None = None
    article_count: int = 0
    origin: str = "config"       # config | user (added with /addfeed)
    active: bool = True
    fetch_url: str | None = None
    category: str = ""               # a folder of the operator's (OPML outline, /sources)
    language: str = ""               # source language code; "" = detected from the text
    failing_since: datetime | None = None  # first failure of the current error streak
    paused_at: datetime | None = None      # paused after failing too long; probed daily


@dataclass(frozen=True)
class Chat:
    """A Telegram chat (private, group, supergroup or channel) and its digest settings.

    ``times`` are local "HH:MM" (or "HH:MM:SS") strings in ``timezone``; ``excluded_feeds``
    are the sources this chat switched off.
    """

    id: int
    type: str
    title: str
    subscribed: bool
    times: tuple[str, ...]
    timezone: str
    max_items: int
    subscribed_at: datetime | None = None
    last_digest_at: datetime | None = None
    inactive_reason: str | None = None
    excluded_feeds: frozenset[int] = frozenset()
    watermark: int = 0               # every article id at or below it was handled for this chat
    thread_id: int | None = None     # forum topic the chat subscribed from (None: General)
    last_due_at: datetime | None = None   # the last scheduled digest time handled
    next_due_at: datetime | None = None   # the next one (None: not subscribed)
    language: str | None = None      # interface language; None = the first user's own


@dataclass(frozen=True)
class ChatWord:
    """A chat's filter or alert word. ``kind``: include | exclude | alert."""

    id: int
    kind: str
    word: str


@dataclass(frozen=True)
class OutboxMessage:
    """One message of a digest waiting in the durable outbox (or already handled)."""

    id: int
    chat_id: int
    digest_id: str
    seq: int
    text: str
    status: str          # pending | sent | failed
    attempts: int = 0
    kind: str = "digest"             # digest | alert | notice
    thread_id: int | None = None     # forum topic to post in
    buttons: str | None = None       # inline keyboard as JSON: [[{"text", "callback_data"}]]
