"""Digests and alerts into the outbox: scheduled digests, /digest, the "more" button, alerts.

Everything here writes to the durable outbox and wakes delivery; nothing sends directly, so
a crash between choosing and sending loses nothing and repeats nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.analysis import find_word
from bot.digest import TelegramHTML, render_alert, render_digest
from bot.models import Chat
from bot.selection import ChatFilters, Story, build_stories, plan_digest, story_texts
from bot.store import Store
from bot.telegram.common import answer, current_chat
from bot.telegram.services import Services, services

MORE_DATA = "more"
ALERTS_PER_HOUR = 10


def chat_filters(store: Store, chat_id: int) -> ChatFilters:
    words = store.chat_words(chat_id)
    return ChatFilters(include=tuple(w.word for w in words if w.kind == "include"),
                       exclude=tuple(w.word for w in words if w.kind == "exclude"))


def queue_digest(svc: Services, chat: Chat, now: datetime, *, due: datetime | None = None,
                 more_page: bool = False) -> int:
    """Write the chat's next digest to the outbox; returns how many stories it holds.

    Stories are those the chat has not been sent (nothing is lost to a refresh running at
    the same time), ranked, at most the chat's item count; the rest are announced with a
    button for the next page. ``due`` is the scheduled time this digest serves.
    """
    max_age = timedelta(hours=svc.settings.digest.max_age_hours)
    plan = plan_digest(svc.store, chat, chat_filters(svc.store, chat.id), now=now,
                       max_age=max_age)
    if not plan.shown:
        svc.store.advance_chat(chat.id, watermark=plan.watermark, due=due)
        return 0
    messages = render_digest(plan.shown, TelegramHTML(), now=now, timezone=chat.timezone,
                             more=plan.more, more_page=more_page)
    svc.store.queue_digest(chat.id, [s.id for s in plan.shown], messages, now,
                           buttons=more_buttons(plan.more, chat.max_items),
                           thread_id=chat.thread_id, watermark=plan.watermark, due=due)
    svc.outbox.notify()
    return len(plan.shown)


def asked_here(update: Update, chat: Chat) -> Chat:
    """The chat, delivering to the forum topic the request came from (None: General)."""
    message = update.effective_message
    topic = message.message_thread_id if message and message.is_topic_message else None
    return dataclasses.replace(chat, thread_id=topic)


def more_buttons(more: int, page: int) -> str | None:
    """The "next stories" button (as stored JSON) when stories are waiting."""
    if not more:
        return None
    label = f"Next {min(more, page)} of {more} ▶"
    return json.dumps([[{"text": label, "callback_data": MORE_DATA}]])


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The button under a digest that did not hold every story: send the next page."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    chat = asked_here(update, current_chat(update, context))
    # One press, one page; a message too old to edit, or edited by an earlier press, is fine.
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    if queue_digest(svc, chat, datetime.now(UTC), more_page=True):
        await answer(update, "Sending the next stories…")
    else:
        await answer(update, "You are up to date: nothing more to send.", alert=True)


def queue_alerts(svc: Services, article_ids: list[int], now: datetime) -> int:
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
            queued += _alert_chat(svc, chat, words, stories, now)
    if queued:
        svc.outbox.notify()
    return queued


def _alert_chat(svc: Services, chat: Chat, words: list[str], stories: list[Story],
                now: datetime) -> int:
    budget = ALERTS_PER_HOUR - svc.store.count_recent(chat.id, "alert", now - timedelta(hours=1))
    if budget <= 0:
        return 0
    mine = build_stories({s.id: s.articles for s in stories}, chat.excluded_feeds)
    sent = svc.store.stories_sent(chat.id, [s.id for s in mine])
    filters = ChatFilters(exclude=chat_filters(svc.store, chat.id).exclude)
    queued = 0
    for story in sorted(mine, key=lambda s: s.newest):
        word = find_word(words, story_texts(story))
        if queued >= budget or word is None or story.id in sent or not filters.admits(story):
            continue
        text = render_alert(story, word, TelegramHTML(), now=now)
        svc.store.queue_digest(chat.id, [story.id], [text], now, kind="alert",
                               thread_id=chat.thread_id)
        queued += 1
    return queued
