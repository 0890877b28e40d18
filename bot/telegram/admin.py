"""Admin commands (user ids in telegram.admins): /addfeed, /removefeed, /stats."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.digest import isolate, relative_time
from bot.errors import StageError
from bot.parse import parse_feed
from bot.telegram.common import (
    answer,
    edit,
    esc,
    is_admin,
    parse_id,
    refuse,
    refuse_arguments,
    reply,
)
from bot.telegram.services import services

REFUSAL = "Sorry, only the bot's administrators can do that."
ADDFEED_USAGE = "Usage: <code>/addfeed https://example.com/rss.xml [name]</code>"
REMOVEFEED_USAGE = "Usage: /removefeed shows buttons; or /removefeed followed by one feed URL."
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 100


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
        await reply(update, f"Removed {esc(match[0].name)}. Its articles stay searchable.")
        return
    buttons = [[InlineKeyboardButton(f"✖ {f.name}", callback_data=f"rmfeed:{f.id}")]
               for f in feeds]
    await reply(update, "Which source should be removed?",
                reply_markup=InlineKeyboardMarkup(buttons))


async def remove_feed_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A source button under /removefeed."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_non_admin(update, context):
        return
    feed_id = parse_id(query.data.removeprefix("rmfeed:"))
    svc = services(context)
    active = {f.id for f in svc.store.feeds(active_only=True)}
    if feed_id not in active or not svc.store.set_feed_active(feed_id, False):
        await answer(update, "That source no longer exists.", alert=True)
        return
    await answer(update, "Removed")
    await edit(update, "Source removed. Its articles stay searchable.", None)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Feeds, articles, chats, the last refresh and feeds in trouble."""
    if await _refuse_non_admin(update, context) or await refuse_arguments(update, context,
                                                                          "stats"):
        return
    svc = services(context)
    now = datetime.now(UTC)
    feeds = svc.store.feeds(active_only=True)
    chats, subscribed = svc.store.count_chats()
    last = relative_time(svc.last_refresh, now) if svc.last_refresh else "not yet"
    lines = [f"<b>Nashra</b> · {len(feeds)} sources · {svc.store.count_articles()} articles",
             f"{subscribed} subscribed chats of {chats} · last refresh {last}"]
    if svc.last_report:
        r = svc.last_report
        lines.append(f"Last refresh: {r.new_articles} new, {r.sentences_translated} sentences "
                     f"translated, {r.cache_hits} from cache")
    failing = [f for f in feeds if f.error_count]
    lines.append(f"Sources with errors: {len(failing)}")
    lines += [f"• {esc(isolate(f.name))}: {f.error_count}× — {esc(f.last_error or '')}"
              for f in failing]
    await reply(update, "\n".join(lines))
