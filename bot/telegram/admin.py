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
from bot.i18n import N_, Gettext, Ngettext, translation
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
    texts,
    update_language,
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

REFUSAL = N_("Sorry, only the bot's administrators can do that.")
ADDFEED_USAGE = N_("Usage: <code>/addfeed https://example.com/rss.xml [name]</code>")
REMOVEFEED_USAGE = N_("Usage: /removefeed shows buttons; or /removefeed followed by one feed "
                      "URL.")
REMOVED = N_("Removed %(name)s. Its articles stay searchable.")
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 100
ERROR_CHARS = 100  # a feed's last error under /stats; with the name, 10 lines fit easily


async def _refuse_non_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    if is_admin(update, context):
        return False
    await refuse(update, texts(update, context)(REFUSAL))
    return True


async def add_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fetch a feed once, report what it holds, then add it: /addfeed URL [name]."""
    if await _refuse_non_admin(update, context):
        return
    args = context.args or []
    language = update_language(update, context)
    _, ngettext = translation(language).gettext, translation(language).ngettext
    problem = feed_arguments_problem(args, _)
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
        await reply(update, _("Not added: %(error)s") % {"error": esc(str(exc))})
        return
    if not parsed.entries:
        await reply(update, _("Not added: the feed has no items."))
        return
    feed = svc.store.add_user_feed(url, name or parsed.title or url, now)
    newest, count = parsed.entries[0], len(parsed.entries)
    await reply(update, ngettext(
        "Added <b>%(name)s</b>: %(count)d item, newest “%(title)s” (%(age)s). New articles "
        "arrive with the next refresh.",
        "Added <b>%(name)s</b>: %(count)d items, newest “%(title)s” (%(age)s). New articles "
        "arrive with the next refresh.", count) % {
        "name": esc(feed.name), "count": count, "title": esc(newest.title[:120]),
        "age": relative_time(newest.published, now, language)})


def feed_arguments_problem(args: list[str], _: Gettext) -> str | None:
    """Why ``/addfeed URL [name]`` arguments are refused (HTML), or None."""
    if not args:
        return _(ADDFEED_USAGE)
    if len(args[0]) > MAX_URL_CHARS:
        return _("That URL is too long (max %(count)d characters).") % {"count": MAX_URL_CHARS}
    if len(" ".join(args[1:])) > MAX_NAME_CHARS:
        return _("That name is too long (max %(count)d characters).") % {
            "count": MAX_NAME_CHARS}
    try:
        parts = urlsplit(args[0])
        host = parts.hostname
    except ValueError:
        host = None
    else:
        if parts.scheme not in ("http", "https"):
            return _(ADDFEED_USAGE)
    if not host or not args[0].isprintable():
        return _("That is not a valid feed URL; it should look like "
                 "https://example.com/rss.xml")
    return None


async def remove_feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove a source for everyone: /removefeed shows buttons; /removefeed ID removes."""
    if await _refuse_non_admin(update, context):
        return
    svc, _ = services(context), texts(update, context)
    feeds = svc.store.feeds(active_only=True)
    if context.args:
        target = context.args[0]
        if len(context.args) > 1 or len(target) > MAX_URL_CHARS:
            await reply(update, _(REMOVEFEED_USAGE))
            return
        match = [f for f in feeds if str(f.id) == target or f.url == target]
        if not match:
            await reply(update, _("No such source. /removefeed without arguments lists them."))
            return
        svc.store.set_feed_active(match[0].id, False)
        await reply(update, _(REMOVED) % {"name": listed(match[0].name)})
        return
    shown = removal_page(feeds, 1, _=_)
    assert shown is not None  # the first page always exists
    await reply(update, shown[0], reply_markup=shown[1])


def removal_page(feeds: Sequence[FeedState], number: int | None, *, clamp: bool = False,
                 note: str = "", _: Gettext) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Page ``number`` of /removefeed: ``note`` (HTML), the names and a button each, or None
    for a page that is not there."""
    page = page_of(feeds, number, clamp=clamp)
    if page is None:
        return None
    if not page.total:
        return note + _("No sources left to remove."), None
    lines = [note + _("<b>Sources %(span)s</b> — tap one to remove it for everyone:") % {
        "span": page.span_in(_)}, *(f"#{f.id} {listed(f.name)}" for f in page.items)]
    buttons = [[Button(f"✖ {clipped(f.name, LABEL_CHARS)}", f"rmfeed:{f.id}:{page.number}")]
               for f in page.items]
    return "\n".join(lines), paged(buttons, "rmfeed", page, _=_)


async def remove_feed_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A source button under /removefeed (``rmfeed:<id>[:<page>]``), or ``rmfeed:p:<page>``."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_non_admin(update, context):
        return
    svc, _ = services(context), texts(update, context)
    active = {f.id: f for f in svc.store.feeds(active_only=True)}
    head, _sep, tail = query.data.removeprefix("rmfeed:").partition(":")
    if head == "p":
        await show_page(update, removal_page(list(active.values()), parse_id(tail), _=_),
                        "removefeed", _=_)
        return
    feed_id, number = parse_id(head), parse_id(tail or "1")
    if feed_id is None or feed_id not in active:
        await answer(update, _("That source no longer exists."), alert=True)
        return
    if not number:
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    svc.store.set_feed_active(feed_id, False)
    note = _(REMOVED) % {"name": listed(active.pop(feed_id).name)} + "\n"
    shown = removal_page(list(active.values()), number, clamp=True, note=note, _=_)
    await show_page(update, shown, "removefeed", _("Removed"), _)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Feeds, articles, chats, the last refresh and feeds in trouble (a page at a time)."""
    if await _refuse_non_admin(update, context) or await refuse_arguments(update, context,
                                                                          "stats"):
        return
    shown = stats_page(services(context), 1, update_language(update, context))
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
    language = update_language(update, context)
    await show_page(update, stats_page(services(context), number, language), "stats",
                    _=translation(language).gettext)


def stats_page(svc: Services, number: int | None, language: str
               ) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The totals and page ``number`` of the feeds in trouble, or None for no such page."""
    _, ngettext = translation(language).gettext, translation(language).ngettext
    feeds = svc.store.feeds(active_only=True)
    failing = [f for f in feeds if f.error_count]
    page = page_of(failing, number)
    if page is None:
        return None
    lines = _totals(svc, feeds, language, _, ngettext)
    if paused := sum(1 for f in feeds if f.paused_at):
        lines.append(_("Paused sources: %(count)d (tried once a day; /resumefeed lists them)")
                     % {"count": paused})
    errors = {"count": len(failing), "span": page.span_in(_)}
    lines.append(_("Sources with errors: %(count)d · showing %(span)s") % errors if failing
                 else _("Sources with errors: %(count)d") % errors)
    lines += [f"• {listed(f.name)}: {f.error_count}× — "
              f"{esc(clipped(f.last_error or '', ERROR_CHARS))}" for f in page.items]
    return "\n".join(lines), paged([], "stats", page, _=_)


def _totals(svc: Services, feeds: Sequence[FeedState], language: str, _: Gettext,
            ngettext: Ngettext) -> list[str]:
    """The first lines of /stats: sources, articles, chats and the last refresh."""
    articles = svc.store.count_articles()
    chats, subscribed = svc.store.count_chats()
    last = (relative_time(svc.last_refresh, datetime.now(UTC), language) if svc.last_refresh
            else _("not yet"))
    lines = [_("<b>Nashra</b> · %(sources)s · %(articles)s") % {
        "sources": ngettext("%(count)d source", "%(count)d sources", len(feeds)) % {
            "count": len(feeds)},
        "articles": ngettext("%(count)d article", "%(count)d articles", articles) % {
            "count": articles}},
        ngettext("%(count)d subscribed chat of %(total)d · last refresh %(last)s",
                 "%(count)d subscribed chats of %(total)d · last refresh %(last)s",
                 subscribed) % {"count": subscribed, "total": chats, "last": last}]
    if svc.last_report:
        r = svc.last_report
        lines.append(_("Last refresh: %(new)d new, %(sentences)d sentences translated, "
                       "%(cached)d from cache") % {"new": r.new_articles,
                                                   "sentences": r.sentences_translated,
                                                   "cached": r.cache_hits})
    return lines
