"""The Telegram side of digests: the "more" button under a digest, and where a request came
from (a forum topic). Choosing and queueing digests and alerts is :mod:`bot.digests`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.digests import queue_digest
from bot.models import Chat
from bot.telegram.common import answer, current_chat, texts
from bot.telegram.services import services


def asked_here(update: Update, chat: Chat) -> Chat:
    """The chat, delivering to the forum topic the request came from (None: General)."""
    message = update.effective_message
    topic = message.message_thread_id if message and message.is_topic_message else None
    return dataclasses.replace(chat, thread_id=topic)


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The button under a digest that did not hold every story: send the next page."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    chat = asked_here(update, current_chat(update, context))
    # One press, one page; a message too old to edit, or edited by an earlier press, is fine.
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    _ = texts(update, context)
    if queue_digest(svc, chat, datetime.now(UTC), more_page=True):
        await answer(update, _("Sending the next stories…"))
    else:
        await answer(update, _("You are up to date: nothing more to send."), alert=True)
