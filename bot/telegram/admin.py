"""Admin commands (user ids in telegram.admins): /addfeed, /removefeed, /stats.

Long lists come a page at a time: ``rmfeed:<feed id>[:<page>]`` removes a source and shows
that page again, ``rmfeed:p:<page>`` and ``stats:p:<page>`` turn the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.digest import relative_time
from bot.errors import StageError
from bot.models import FeedState
from bot.parse import parse_feed
from bot.telegram.common import (
    INVALID_BUTTON,
    answer,
    clipped,
    esc,
    is_admin,
    parse_id,
    refuse,
    refuse_arguments,
    reply,
)
from bot.telegram.paging import (
    LABEL_CHARS,
    Button,
    listed,
    page_of,
    paged,
    show_page,
)
from bot.telegram.services import Services, services

REFUSAL = "Sorry, only the bot's administrators can do that."
ADDFEED_USAGE = "Usage: <code>/addfeed https://example.com/rss.xml [name]</code>"
REMOVEFEED_USAGE = "Usage: /removefeed shows buttons; or /removefeed followed by one feed URL."
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 100
ERROR_CHARS = 100  # a feed's last error under /stats; with the name, 10 lines fit easily


async def _refuse_non_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    if is_admin(update, context):
        return False
    await refuse(update, REFUSAL)
    return True


async def add_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fetch a feed once, report what it holds, then add it: /addfeed URL [name]."""
    if await _refuse_non_admin(update, context):
        return
    args = context.args or []
    problem = feed_arguments_problem(args)
    if problem:
        await reply(update, problem)
        return
    url, name = args[0], " ".join(args[1:]).strip()
    svc = services(context)
    now = datetime.now(UTC)
    try:
        # A URL from the chat may not reach private or metadata addresses (SSRF).
        result = await svc.fetcher.fetch(
            url, public_only=not svc.settings.fetch.allow_private)
        parsed = parse_feed(result.body, result.headers, result.url, now)
    except StageError as exc:
        await reply(update, f"Not added: {esc(str(exc))}")
        return
    if not parsed.entries:
        await reply(update, "Not added: the feed has no items.")
        return
    feed = svc.store.add_user_feed(url, name or parsed.title or url, now)
    newest = parsed.entries[0]
    await reply(update, f"Added <b>{esc(feed.name)}</b>: {len(parsed.entries)} items, newest "
                f"“{esc(newest.title[:120])}” ({relative_time(newest.published, now)}). "
                "New articles arrive with the next refresh.")


def feed_arguments_problem(args: list[str]) -> str | None:
    """Why ``/addfeed URL [name]`` arguments are refused (HTML), or None."""
    if not args:
        return ADDFEED_USAGE
    if len(args[0]) > MAX_URL_CHARS:
        return f"That URL is too long (max {MAX_URL_CHARS} characters)."
    if len(" ".join(args[1:])) > MAX_NAME_CHARS:
        return f"That name is too long (max {MAX_NAME_CHARS} characters)."
    try:
        parts = urlsplit(args[0])
        host = parts.hostname
    except ValueError:
        host = None
    else:
        if parts.scheme not in ("http", "https"):
            return ADDFEED_USAGE
    if not host or not args[0].isprintable():
        return "That is not a valid feed URL; it should look like https://example.com/rss.xml"
    return None


async def remove_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove a source for everyone: /removefeed shows buttons; /removefeed ID removes."""
    if await _refuse_non_admin(update, context):
        return
    svc = services(context)
    feeds = svc.store.feeds(active_only=True)
    if context.args:
        target = context.args[0]
        if len(context.args) > 1 or len(target) > MAX_URL_CHARS:
            await reply(update, REMOVEFEED_USAGE)
            return
        match = [f for f in feeds if str(f.id) == target or f.url == target]
        if not match:
            await reply(update, "No such source. /removefeed without arguments lists them.")
            return
        svc.store.set_feed_active(match[0].id, False)
        await reply(update, f"Removed {listed(match[0].name)}. Its articles stay searchable.")
        return
    shown = removal_page(feeds, 1)
    assert shown is not None  # the first page always exists
    await reply(update, shown[0], reply_markup=shown[1])


def removal_page(feeds: Sequence[FeedState], number: int | None, *, clamp: bool = False,
                 note: str = "") -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Page ``number`` of /removefeed: ``note`` (HTML), the names and a button each, or None
    for a page that is not there."""
    page = page_of(feeds, number, clamp=clamp)
    if page is None:
        return None
    if not page.total:
        return note + "No sources left to remove.", None
    lines = [f"{note}<b>Sources {page.span}</b> — tap one to remove it for everyone:",
             *(f"#{f.id} {listed(f.name)}" for f in page.items)]
    buttons = [[Button(f"✖ {clipped(f.name, LABEL_CHARS)}", f"rmfeed:{f.id}:{page.number}")]
               for f in page.items]
    return "\n".join(lines), paged(buttons, "rmfeed", page)


async def remove_feed_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A source button under /removefeed (``rmfeed:<id>[:<page>]``), or ``rmfeed:p:<page>``."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_non_admin(update, context):
        return
    svc = services(context)
    active = {f.id: f for f in svc.store.feeds(active_only=True)}
    head, _sep, tail = query.data.removeprefix("rmfeed:").partition(":")
    if head == "p":
        await show_page(update, removal_page(list(active.values()), parse_id(tail)),
                        "removefeed")
        return
    feed_id, number = parse_id(head), parse_id(tail or "1")
    if feed_id is None or feed_id not in active:
        await answer(update, "That source no longer exists.", alert=True)
        return
    if not number:
        await answer(update, INVALID_BUTTON, alert=True)
        return
    svc.store.set_feed_active(feed_id, False)
    note = f"Removed {listed(active.pop(feed_id).name)}. Its articles stay searchable.\n"
    shown = removal_page(list(active.values()), number, clamp=True, note=note)
    await show_page(update, shown, "removefeed", "Removed")


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Feeds, articles, chats, the last refresh and feeds in trouble (a page at a time)."""
    if await _refuse_non_admin(update, context) or await refuse_arguments(update, context,
                                                                          "stats"):
        return
    shown = stats_page(services(context), 1)
    assert shown is not None  # the first page always exists
    await reply(update, shown[0], reply_markup=shown[1])


async def stats_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ Previous / Next ▶ under /stats: ``stats:p:<page>`` of the failing feeds."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_non_admin(update, context):
        return
    number = parse_id(query.data.removeprefix("stats:p:")) \
        if query.data.startswith("stats:p:") else None
    await show_page(update, stats_page(services(context), number), "stats")


def stats_page(svc: Services, number: int | None
               ) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The totals and page ``number`` of the feeds in trouble, or None for no such page."""
    now = datetime.now(UTC)
    feeds = svc.store.feeds(active_only=True)
    failing = [f for f in feeds if f.error_count]
    page = page_of(failing, number)
    if page is None:
        return None
    chats, subscribed = svc.store.count_chats()
    last = relative_time(svc.last_refresh, now) if svc.last_refresh else "not yet"
    lines = [f"<b>Nashra</b> · {len(feeds)} sources · {svc.store.count_articles()} articles",
             f"{subscribed} subscribed chats of {chats} · last refresh {last}"]
    if svc.last_report:
        r = svc.last_report
        lines.append(f"Last refresh: {r.new_articles} new, {r.sentences_translated} sentences "
                     f"translated, {r.cache_hits} from cache")
    lines.append(f"Sources with errors: {len(failing)}"
                 + (f" · showing {page.span}" if failing else ""))
    lines += [f"• {listed(f.name)}: {f.error_count}× — "
              f"{esc(clipped(f.last_error or '', ERROR_CHARS))}" for f in page.items]
    return "\n".join(lines), paged([], "stats", page)
