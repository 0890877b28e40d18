"""Inline mode: ``@botname words`` in any chat lists matching stories to share.

Each result is an article: the English title, source and date, the lead, the link, and a
button that opens the whole translation in a private chat with the bot (a ``/start read_ID``
deep link). Results come 20 at a time; Telegram asks for more with the offset we return.
Inline mode must be switched on for the bot with @BotFather (/setinline).
"""

from __future__ import annotations

import asyncio

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.digest import local_date, shorten
from bot.i18n import DEFAULT_LANGUAGE, translation
from bot.search import MAX_OFFSET, SearchHit, query_problem, search
from bot.telegram.common import parse_id, update_language
from bot.telegram.searching import render_hit
from bot.telegram.services import services

INLINE_RESULTS = 20
CACHE_SECONDS = 60  # Telegram may reuse an answer this long (new articles wait that long)
READ_START = "read_"  # /start read_<id>: the deep link under a shared result
HELP_START = "search_help"
DESCRIPTION_CHARS = 160


async def inline_search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer ``@botname words`` with up to 20 stories, paged by Telegram's offset."""
    query = update.inline_query
    assert query is not None
    text = query.query.strip()
    offset = parse_id(query.offset) if query.offset else 0
    language = update_language(update, context)
    tips = InlineQueryResultsButton(text=translation(language).gettext("How to search"),
                                    start_parameter=HELP_START)
    if not text or offset is None or offset > MAX_OFFSET or query_problem(text):
        await query.answer([], cache_time=CACHE_SECONDS, button=tips)
        return
    archive = services(context).store.reader()
    page = await asyncio.to_thread(search, archive, text, limit=INLINE_RESULTS, offset=offset)
    username = context.bot.username
    results = [inline_result(hit, username, language) for hit in page.hits]
    more = str(offset + INLINE_RESULTS) if page.has_more else ""
    await query.answer(results, next_offset=more, cache_time=CACHE_SECONDS,
                       button=tips if not offset else None)


def inline_result(hit: SearchHit, bot_username: str,
                  language: str = DEFAULT_LANGUAGE) -> InlineQueryResultArticle:
    """One story as a shareable article; the message it sends is a result block."""
    a = hit.article
    title = a.title_translated or a.title_original
    lead = a.lead or a.text_translated or a.text_original
    read = InlineKeyboardButton(translation(language).gettext("Read the full translation"),
                                url=f"https://t.me/{bot_username}?start={READ_START}{a.id}")
    return InlineQueryResultArticle(
        id=str(a.id), title=shorten(title, 120), url=a.url,
        description=shorten(f"{a.feed_name} · {local_date(a.published, language)} — {lead}",
                            DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(
            "\n".join(render_hit(hit, None, language)), parse_mode=ParseMode.HTML),
        reply_markup=InlineKeyboardMarkup([[read]]))
