"""The admin command of the feed life cycle (see :mod:`bot.feed_health`): /resumefeed.

/resumefeed lists the paused feeds a page at a time: ``resume:<feed id>:<page>`` resumes one
and shows that page again, ``resume:p:<page>`` turns the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.feed_health import paused_feeds
from bot.i18n import Gettext
from bot.models import FeedState
from bot.telegram.common import answer, clipped, is_admin, parse_id, refuse, reply, texts
from bot.telegram.paging import LABEL_CHARS, Button, listed, page_of, paged, show_page
from bot.telegram.services import services

MAX_ARGUMENT_CHARS = 2048


async def _refused(update: Update, context: ContextTypes.DEFAULT_TYPE, _: Gettext) -> bool:
    if is_admin(update, context):
        return False
    await refuse(update, _("Sorry, only the bot's administrators can do that."))
    return True


def _named(feeds: Sequence[FeedState], args: Sequence[str]) -> FeedState | None:
    """The feed one argument names, by id or URL."""
    if len(args) != 1 or len(args[0]) > MAX_ARGUMENT_CHARS:
        return None
    return next((f for f in feeds if str(f.id) == args[0] or f.url == args[0]), None)


async def resume_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Resume a paused feed: /resumefeed shows buttons; /resumefeed ID resumes it."""
    _ = texts(update, context)
    if await _refused(update, context, _):
        return
    store = services(context).store
    paused = paused_feeds(store)
    if context.args:
        feed = _named(paused, context.args)
        if feed is None:
            await reply(update, _("No paused source with that id. /resumefeed without "
                                  "arguments lists them."))
            return
        store.resume_feed_now(feed.id)
        await reply(update, _resumed(feed, _))
        return
    shown = resume_page(paused, 1, _)
    assert shown is not None  # the first page always exists
    await reply(update, shown[0], reply_markup=shown[1])


def _resumed(feed: FeedState, _: Gettext) -> str:
    return _("Resumed %(name)s: it is fetched at the next refresh.") % {
        "name": listed(feed.name)}


def resume_page(feeds: Sequence[FeedState], number: int | None, _: Gettext, *,
                clamp: bool = False, note: str = ""
                ) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Page ``number`` of /resumefeed: ``note`` (HTML), the paused feeds with their last
    errors and a button each, or None for a page that is not there."""
    page = page_of(feeds, number, clamp=clamp)
    if page is None:
        return None
    if not page.total:
        return note + _("No source is paused."), None
    lines = [note + _("<b>Paused sources %(span)s</b>, tried once a day — tap one to resume "
                      "it now:") % {"span": page.span},
             *(f"#{f.id} {listed(f.name)}: {listed(f.last_error or '')}" for f in page.items)]
    buttons = [[Button(f"▶ {clipped(f.name, LABEL_CHARS)}", f"resume:{f.id}:{page.number}")]
               for f in page.items]
    return "\n".join(lines), paged(buttons, "resume", page)


async def resume_feed_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A feed button under /resumefeed (``resume:<id>:<page>``), or ``resume:p:<page>``."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = texts(update, context)
    if await _refused(update, context, _):
        return
    store = services(context).store
    paused = {f.id: f for f in paused_feeds(store)}
    head, _sep, tail = query.data.removeprefix("resume:").partition(":")
    if head == "p":
        await show_page(update, resume_page(list(paused.values()), parse_id(tail), _),
                        "resumefeed")
        return
    feed_id, number = parse_id(head), parse_id(tail or "1")
    if feed_id is None or feed_id not in paused or not number:
        await answer(update, _("That source is not paused any more."), alert=True)
        return
    store.resume_feed_now(feed_id)
    note = _resumed(paused.pop(feed_id), _) + "\n"
    shown = resume_page(list(paused.values()), number, _, clamp=True, note=note)
    await show_page(update, shown, "resumefeed", _("Resumed"))
