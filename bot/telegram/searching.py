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

from bot.digest import isolate
from bot.query import query_help
from bot.search import MAX_OFFSET, SearchHit, SearchPage, query_problem, search
from bot.snippets import Snippet
from bot.telegram.common import INVALID_BUTTON, answer, edit, esc, parse_id, reply
from bot.telegram.services import services

SEARCH_PAGE = 5
MAX_REMEMBERED_SEARCHES = 20
SEARCH_EXPIRED = "This search has expired. Send /search again."


async def search_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Search the archive; results come with Next/Previous buttons."""
    text = " ".join(context.args or []).strip()
    if not text:
        await reply(update, esc(query_help()))
        return
    problem = query_problem(text)
    if problem:
        await reply(update, esc(problem))
        return
    token = _remember_search(context, text)

    async def send_results() -> None:
        page = await _search_in_thread(context, text, 0)
        await reply(update, render_search(page), reply_markup=search_buttons(page, token))

    context.application.create_task(send_results(), update=update)


async def search_page_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Next/Previous under search results (``search:<token>:<offset>``): edit in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _sep, rest = query.data.partition(":")
    token, _sep, offset_text = rest.partition(":")
    offset = parse_id(offset_text)
    if offset is None or offset > MAX_OFFSET or offset % SEARCH_PAGE:
        await answer(update, INVALID_BUTTON, alert=True)
        return
    remembered: dict[str, str] = (context.chat_data or {}).get("searches", {})
    if token not in remembered:
        await answer(update, SEARCH_EXPIRED, alert=True)
        return
    text = remembered[token]

    async def show_page() -> None:
        page = await _search_in_thread(context, text, offset)
        if not page.hits and offset:
            await answer(update, "No more results.")
            return
        await answer(update)
        await edit(update, render_search(page), search_buttons(page, token))

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


def render_search(page: SearchPage) -> str:
    """The page as HTML: what was searched, notes, then one block per story."""
    asked = esc(page.query.describe() or page.text)
    notes = [f"<i>{esc(problem)}</i>" for problem in page.query.problems]
    notes += [f"<i>No source matches “{esc(name)}”; /sources lists them.</i>"
              for name in page.unknown_sources]
    if not page.hits:
        return "\n".join([f"No results for <b>{asked}</b>.", *notes])
    first, last = page.offset + 1, page.offset + len(page.hits)
    lines = [f"🔎 <b>{asked}</b> — results {first}–{last}", *notes]
    if not page.matched_all_terms:
        lines.append("<i>No story has every word; showing stories with some of them.</i>")
    for rank, hit in enumerate(page.hits, start=first):
        lines += ["", *render_hit(hit, rank)]
    return "\n".join(lines)


def render_hit(hit: SearchHit, rank: int | None = None) -> list[str]:
    """A result's lines: linked title, source and date, snippet. Numbered results (in the
    bot's own chat) end their source line with the /read_ID command."""
    a = hit.article
    title = a.title_translated or a.title_original
    also = f" · also in {hit.outlets - 1} more" if hit.outlets > 1 else ""
    number = f"{rank}. " if rank is not None else ""
    read = f" · /read_{a.id}" if rank is not None else ""
    return [f'{number}<a href="{html.escape(a.url)}"><b>{esc(title)}</b></a>',
            f"<i>{esc(isolate(a.feed_name))} · {a.published:%d %b %Y}{also}</i>{read}",
            snippet_html(hit.snippet)]


def snippet_html(snippet: Snippet) -> str:
    """The snippet escaped, its matches in bold (balanced by construction)."""
    return "".join(f"<b>{esc(s.text)}</b>" if s.match else esc(s.text) for s in snippet)


def search_buttons(page: SearchPage, token: str) -> InlineKeyboardMarkup | None:
    row = []
    if page.offset > 0:
        previous = max(0, page.offset - page.limit)
        row.append(InlineKeyboardButton("◀ Previous", callback_data=f"search:{token}:{previous}"))
    if page.has_more:
        row.append(InlineKeyboardButton("Next ▶",
                                        callback_data=f"search:{token}:{page.offset + page.limit}"))
    return InlineKeyboardMarkup([row]) if row else None
