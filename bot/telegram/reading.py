"""Reading one article in full: /read ID, a tapped /read_<id>, the original's button."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.digest import TelegramHTML
from bot.i18n import N_, Gettext, translation
from bot.reader import (
    is_translated,
    original_label,
    render_article,
    render_original,
    valid_article_id,
)
from bot.store import StoredArticle
from bot.telegram.common import INVALID_BUTTON, answer, parse_id, reply, update_language
from bot.telegram.services import services

READ_PREFIX = "/read_"
ORIGINAL_PREFIX = "orig:"
# A runaway feed text must not flood the chat (groups allow ~20 messages a minute).
MAX_MESSAGES = 10
USAGE = N_("Usage: <code>/read ID</code> — ID is the number in <code>/read_ID</code> under a "
           "digest item or a search result, e.g. <code>/read 12</code>.")


def no_article(article_id: int, _: Gettext) -> str:
    return _("No article %(id)d.") % {"id": article_id}


def original_button(article: StoredArticle, _: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        original_label(article.language, _), callback_data=f"{ORIGINAL_PREFIX}{article.id}")]])


async def read_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/read ID: the whole article in English, with a button for the original."""
    args = context.args or []
    await read_article(update, context, args[0] if len(args) == 1 else "")


async def read_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tapped /read_<id> (/read_<id>@botname in groups): the same as /read ID."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    digits, _at, addressee = command.removeprefix(READ_PREFIX).partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # meant for another bot in the same group
    await read_article(update, context, digits)


async def original_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The original's button ("Arabic original", ``orig:<id>``): its title and text."""
    query = update.callback_query
    assert query is not None and query.data is not None
    article_id = parse_id(query.data.removeprefix(ORIGINAL_PREFIX))
    language = update_language(update, context)
    _ = translation(language).gettext
    if article_id is None or not valid_article_id(article_id):
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    article = services(context).store.get_article(article_id)
    if article is None:
        await answer(update, no_article(article_id, _), alert=True)
        return
    await answer(update)
    messages = render_original(article, TelegramHTML(), timezone=_timezone(update, context),
                               language=language)
    await _send(update, article, messages, None, _)


async def read_article(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """The article whose id is ``text``, in full, or why not."""
    article_id = parse_id(text)
    language = update_language(update, context)
    _ = translation(language).gettext
    if article_id is None:
        await reply(update, _(USAGE))
        return
    article = (services(context).store.get_article(article_id)
               if valid_article_id(article_id) else None)
    if article is None:
        await reply(update, no_article(article_id, _))
        return
    messages = render_article(article, TelegramHTML(), datetime.now(UTC),
                              timezone=_timezone(update, context), language=language)
    buttons = original_button(article, _) if is_translated(article) else None
    await _send(update, article, messages, buttons, _)


def _timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The chat's digest timezone when it has settings, else the configured default."""
    chat = update.effective_chat
    known = services(context).store.get_chat(chat.id) if chat is not None else None
    return known.timezone if known is not None else services(context).settings.digest.timezone


async def _send(update: Update, article: StoredArticle, messages: Sequence[str],
                buttons: InlineKeyboardMarkup | None, _: Gettext) -> None:
    """Send the parts in order, the button under the last; only the first quotes the
    request, so a group sees one reply rather than a stack of them."""
    if len(messages) > MAX_MESSAGES:
        messages = [*messages[:MAX_MESSAGES - 1], _(
            '<i>The article is too long to send in full here; read the rest</i> '
            '<a href="%(url)s">at the source</a>.') % {"url": html.escape(article.url)}]
    for number, text in enumerate(messages, start=1):
        last = number == len(messages)
        await reply(update, text, reply_markup=buttons if last else None,
                    do_quote=None if number == 1 else False)
