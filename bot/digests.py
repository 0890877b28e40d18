"""Choosing and queueing digests and alerts: the chats due now, their stories, the outbox.

Everything here writes to the durable outbox and wakes delivery; nothing sends directly, so
a crash between choosing and sending loses nothing and repeats nothing. It works on the
store, the settings and a clock (``now``); Telegram's job queue calls :func:`serve_batches`
and the bot's handlers call :func:`queue_digest` (see :mod:`bot.telegram.schedule` and
:mod:`bot.telegram.digests`).

Serving: a chat whose stored next time (see :mod:`bot.due`) has come gets the digest of its
latest due time. Catch-up: a due time at most ``digest.catch_up_minutes`` old (busy loop,
restart) is served once; an older one is skipped and the chat's next digest covers the gap
(unsent stories stay candidates for ``digest.max_age_hours``). A digest records the time it
served (``last_due_at``) in its own transaction, so a crash before the next time is stored
never serves that time twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import Settings
from bot.digest import TelegramHTML, render_alert, render_digest
from bot.due import latest_due, next_due_after
from bot.errors import StoreError
from bot.i18n import DEFAULT_LANGUAGE, language_for, translation
from bot.models import Chat
from bot.selection import (
    ChatFilters,
    SharedStories,
    Story,
    build_stories,
    plan_digest,
)
from bot.store import Store

log = logging.getLogger(__name__)
MORE_DATA = "more"  # callback data of the "next stories" button under a digest
ALERTS_PER_HOUR = 10
ALERT_BATCH = 500  # new articles looked at for alert words at a time
BATCH = 500  # due chats read per query (the event loop runs other work between chats)


class Notifier(Protocol):
    def notify(self) -> None:
        """Wake delivery: new messages are waiting in the outbox."""


class DigestServices(Protocol):
    """What choosing and queueing need: the settings, the store and delivery to wake (the
    bot's ``Services`` has them)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def outbox(self) -> Notifier: ...


def chat_filters(store: Store, chat_id: int) -> ChatFilters:
    words = store.chat_words(chat_id)
    return ChatFilters(include=tuple(w.word for w in words if w.kind == "include"),
                       exclude=tuple(w.word for w in words if w.kind == "exclude"))


def queue_digest(svc: DigestServices, chat: Chat, now: datetime, *,
                 due: datetime | None = None, more_page: bool = False,
                 shared: SharedStories | None = None) -> int:
    """Write the chat's next digest to the outbox; returns how many stories it holds.

    Stories are those the chat has not been sent (nothing is lost to a refresh running at
    the same time), ranked, at most the chat's item count; the rest are announced with a
    button for the next page. ``due`` is the scheduled time this digest serves; ``shared``
    holds stories already read for other chats in the same tick.
    """
    max_age = timedelta(hours=svc.settings.digest.max_age_hours)
    plan = plan_digest(svc.store, chat, chat_filters(svc.store, chat.id), now=now,
                       max_age=max_age, shared=shared)
    if not plan.shown:
        svc.store.advance_chat(chat.id, watermark=plan.watermark, due=due)
        return 0
    language = language_for(chat.language)
    messages = render_digest(plan.shown, TelegramHTML(), now=now, timezone=chat.timezone,
                             more=plan.more, more_page=more_page, language=language)
    svc.store.queue_digest(chat.id, [s.id for s in plan.shown], messages, now,
                           buttons=more_buttons(plan.more, chat.max_items, language),
                           thread_id=chat.thread_id, watermark=plan.watermark, due=due)
    svc.outbox.notify()
    return len(plan.shown)


def more_buttons(more: int, page: int, language: str = DEFAULT_LANGUAGE) -> str | None:
    """The "next stories" button (as stored JSON) when stories are waiting."""
    if not more:
        return None
    label = translation(language).gettext("Next %(count)d of %(total)d ▶") % {
        "count": min(more, page), "total": more}
    return json.dumps([[{"text": label, "callback_data": MORE_DATA}]])


# alerts -----------------------------------------------------------------------------------


def queue_alerts(svc: DigestServices, article_ids: list[int], now: datetime) -> int:
    """Send each chat the new stories matching its alert words, right away.

    At most ``ALERTS_PER_HOUR`` per chat; the rest wait for the chat's next digest. An
    alerted story counts as sent, so the digest does not repeat it. Returns alerts queued.
    """
    watchers = svc.store.chats_with_words("alert")
    if not watchers or not article_ids:
        return 0
    stories = build_stories(svc.store.story_articles(svc.store.story_ids(article_ids)))
    queued = 0
    for chat_id, words in watchers.items():
        chat = svc.store.get_chat(chat_id)
        if chat is not None:
            queued += _alert_chat(svc.store, chat, words, stories, now)
    if queued:
        svc.outbox.notify()
    return queued


def alert_new_articles(svc: DigestServices, now: datetime) -> int:
    """:func:`queue_alerts` for every article stored since the last call, whichever process
    stored it (the store's alert queue); returns alerts queued."""
    queued = 0
    while article_ids := svc.store.queued_alert_articles(ALERT_BATCH):
        queued += queue_alerts(svc, article_ids, now)
        svc.store.dequeue_alert_articles(article_ids)
    return queued


def _alert_chat(store: Store, chat: Chat, words: list[str], stories: list[Story],
                now: datetime) -> int:
    budget = ALERTS_PER_HOUR - store.count_recent(chat.id, "alert", now - timedelta(hours=1))
    if budget <= 0:
        return 0
    skip = set(chat.excluded_feeds)
    mine = [story for story in (s.without(skip) for s in stories) if story is not None]
    sent = store.stories_sent(chat.id, [s.id for s in mine])
    filters = ChatFilters(exclude=chat_filters(store, chat.id).exclude)
    queued, language = 0, language_for(chat.language)
    for story in sorted(mine, key=lambda s: s.newest):
        word = story.words.find(words)
        if queued >= budget or word is None or story.id in sent or not filters.admits(story):
            continue
        text = render_alert(story, word, TelegramHTML(), now=now, language=language)
        store.queue_digest(chat.id, [story.id], [text], now, kind="alert",
                           thread_id=chat.thread_id)
        queued += 1
    return queued


# serving the chats due now ----------------------------------------------------------------


def serve_due(svc: DigestServices, now: datetime) -> int:
    """Serve every chat due at ``now``; returns how many due times were served."""
    return sum(serve_batches(svc, now))


def serve_batches(svc: DigestServices, now: datetime, size: int = BATCH) -> Iterator[int]:
    """Serve the due chats, read ``size`` at a time, earliest first; yields after each chat
    (the count it queued), so the caller can let other work run between chats.

    Each chat leaves the due range once served; reading on after the last chat of the batch
    also steps past one whose digest failed (it is tried again at the next tick)."""
    after: tuple[datetime, int] | None = None
    shared = SharedStories(svc.store)
    while chats := svc.store.due_chats(now, after=after, limit=size):
        for chat in chats:
            yield _serve_safely(svc, chat, now, shared)
        last = chats[-1]
        assert last.next_due_at is not None
        after = (last.next_due_at, last.id)


def _serve_safely(svc: DigestServices, chat: Chat, now: datetime,
                  shared: SharedStories) -> int:
    try:
        return serve_chat(svc, chat, now, shared)
    except StoreError:
        raise  # the database refuses: every other chat would fail the same way
    except Exception:
        log.exception("digest of chat %s failed; tried again at the next tick", chat.id)
        return 0


def serve_chat(svc: DigestServices, chat: Chat, now: datetime,
               shared: SharedStories | None = None) -> int:
    """Queue the digest of the chat's latest due time unless it is too old or served
    already, then store its next time. Returns 1 if a due time was served."""
    due = latest_due(chat, now)
    grace = timedelta(minutes=svc.settings.digest.catch_up_minutes)
    served = 0
    if due is not None and not _handled(chat, due):
        if now - due <= grace:
            queue_digest(svc, chat, now, due=due, shared=shared)
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
