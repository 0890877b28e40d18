"""/search in a chat: results as one message with Previous/Next buttons, edited in place.

Searching runs in a task, its queries in a worker thread on the store's read-only
connection, so other updates are handled meanwhile. Buttons carry a short token; the query
itself stays in the chat's data (64-byte callback limit).
"""

from __future__ import annotations

import asyncio
import html
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.digest import isolate, local_date
from bot.i18n import DEFAULT_LANGUAGE, N_, Gettext, translation
from bot.query import query_help
from bot.search import MAX_OFFSET, SearchHit, SearchPage, query_problem, search
from bot.snippets import Snippet
from bot.telegram.common import (
    INVALID_BUTTON,
    answer,
    edit,
    esc,
    parse_id,
    reply,
    update_language,
)
from bot.telegram.services import services

SEARCH_PAGE = 5
MAX_REMEMBERED_SEARCHES = 20
SEARCH_EXPIRED = N_("This search has expired. Send /search again.")


async def search_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Search the archive; results come with Next/Previous buttons."""
    text = " ".join(context.args or []).strip()
    language = update_language(update, context)
    _ = translation(language).gettext
    if not text:
        await reply(update, esc(query_help(_)))
        return
    problem = query_problem(text, None, _)
    if problem:
        await reply(update, esc(problem))
        return
    token = _remember_search(context, text)

    async def send_results() -> None:
        page = await _search_in_thread(context, text, 0)
        await reply(update, render_search(page, language),
                    reply_markup=search_buttons(page, token, _))

    context.application.create_task(send_results(), update=update)


async def search_page_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Next/Previous under search results (``search:<token>:<offset>``): edit in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _sep, rest = query.data.partition(":")
    token, _sep, offset_text = rest.partition(":")
    offset = parse_id(offset_text)
    language = update_language(update, context)
    _ = translation(language).gettext
    if offset is None or offset > MAX_OFFSET or offset % SEARCH_PAGE:
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    remembered: dict[str, str] = (context.chat_data or {}).get("searches", {})
    if token not in remembered:
        await answer(update, _(SEARCH_EXPIRED), alert=True)
        return
    text = remembered[token]

    async def show_page() -> None:
        page = await _search_in_thread(context, text, offset)
        if not page.hits and offset:
            await answer(update, _("No more results."))
            return
        await answer(update)
        await edit(update, render_search(page, language), search_buttons(page, token, _))

    context.application.create_task(show_page(), update=update)


async def _search_in_thread(context: ContextTypes.DEFAULT_TYPE, text: str,
                            offset: int) -> SearchPage:
    archive = services(context).store.reader()
    return await asyncio.to_thread(search, archive, text, limit=SEARCH_PAGE, offset=offset)


def _remember_search(context: ContextTypes.DEFAULT_TYPE, text: str) -> str:
    assert context.chat_data is not None
    searches: dict[str, str] = context.chat_data.setdefault("searches", {})
    token = secrets.token_hex(4)
    searches[token] = text
    while len(searches) > MAX_REMEMBERED_SEARCHES:
        searches.pop(next(iter(searches)))
    return token


def render_search(page: SearchPage, language: str = DEFAULT_LANGUAGE) -> str:
    """The page as HTML: what was searched, notes, then one block per story."""
    _ = translation(language).gettext
    asked = esc(page.query.describe(_) or page.text)
    notes = [f"<i>{esc(issue.text(_))}</i>" for issue in page.query.issues]
    notes += [_("<i>No source matches “%(name)s”; /sources lists them.</i>") % {
        "name": esc(name)} for name in page.unknown_sources]
    if not page.hits:
        return "\n".join([_("No results for <b>%(query)s</b>.") % {"query": asked}, *notes])
    first, last = page.offset + 1, page.offset + len(page.hits)
    lines = [_("🔎 <b>%(query)s</b> — results %(first)d–%(last)d") % {
        "query": asked, "first": first, "last": last}, *notes]
    if not page.matched_all_terms:
        lines.append(_("<i>No story has every word; showing stories with some of them.</i>"))
    for rank, hit in enumerate(page.hits, start=first):
        lines += ["", *render_hit(hit, rank, language)]
    return "\n".join(lines)


def render_hit(hit: SearchHit, rank: int | None = None,
               language: str = DEFAULT_LANGUAGE) -> list[str]:
    """A result's lines: linked title, source and date, snippet. Numbered results (in the
    bot's own chat) end their source line with the /read_ID command."""
    a = hit.article
    title = a.title_translated or a.title_original
    others = hit.outlets - 1
    also = " · " + translation(language).ngettext(
        "also in %(count)d more", "also in %(count)d more", others) % {
        "count": others} if others else ""
    number = f"{rank}. " if rank is not None else ""
    read = f" · /read_{a.id}" if rank is not None else ""
    when = local_date(a.published, language)
    return [f'{number}<a href="{html.escape(a.url)}"><b>{esc(title)}</b></a>',
            f"<i>{esc(isolate(a.feed_name))} · {when}{also}</i>{read}",
            snippet_html(hit.snippet)]


def snippet_html(snippet: Snippet) -> str:
    """The snippet escaped, its matches in bold (balanced by construction)."""
    return "".join(f"<b>{esc(s.text)}</b>" if s.match else esc(s.text) for s in snippet)


def search_buttons(page: SearchPage, token: str, _: Gettext) -> InlineKeyboardMarkup | None:
    row = []
    if page.offset > 0:
        previous = max(0, page.offset - page.limit)
        row.append(InlineKeyboardButton(_("◀ Previous"),
                                        callback_data=f"search:{token}:{previous}"))
    if page.has_more:
        row.append(InlineKeyboardButton(_("Next ▶"),
                                        callback_data=f"search:{token}:{page.offset + page.limit}"))
    return InlineKeyboardMarkup([row]) if row else None
