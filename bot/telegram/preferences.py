"""Per-chat preferences: /sources and /settings, as buttons, typed values and callbacks.

Callback data: ``src:<feed id>[:<page>]`` toggles a source and shows that page of the list
again, ``src:p:<page>`` turns the page; ``set:<what>[:<value>]`` drives the settings menus
(times, timezone, items). A custom time or timezone is typed after pressing
"Custom…", or given directly: ``/settings times 07:30 19:00``, ``/settings timezone
Africa/Cairo``, ``/settings items 5``.

A channel's administrator uses the same commands in a private chat with the channel first:
``/settings @channel [times …]``, ``/sources @channel``. The menus' callback data then end
with ``@<channel id>`` and every press checks the presser's rights in the channel again.
"""

from __future__ import annotations

import html
import re
import time
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.config import TIME_PATTERN
from bot.due import reschedule
from bot.i18n import N_, Gettext
from bot.models import Chat, FeedState
from bot.telegram.common import (
    INVALID_BUTTON,
    Target,
    answer,
    button_target,
    channel_target,
    clipped,
    command_target,
    current_chat,
    edit,
    esc,
    parse_id,
    refuse_arguments,
    refuse_change,
    refuse_unless_manager,
    reply,
    texts,
)
from bot.telegram.handlers import schedule_text
from bot.telegram.paging import LABEL_CHARS, Button, listed, page_of, paged, rows, show_page
from bot.telegram.services import services

TIME_PRESETS = ("06:00", "07:00", "08:00", "12:00", "18:00", "20:00", "22:00")
TIMEZONE_PRESETS = ("UTC", "Africa/Cairo", "Asia/Riyadh", "Asia/Dubai", "Asia/Beirut",
                    "Europe/London", "Europe/Berlin", "America/New_York")
ITEM_PRESETS = (3, 5, 10, 15, 20, 30)
MAX_TIMES = 6
MAX_ITEMS = 30
MAX_VALUE_CHARS = 64  # longest IANA name is ~32; anything longer is not a value
AWAIT_SECONDS = 600  # a "Custom…" prompt expires after this long
AWAITING = "awaiting"
USAGE = N_("Usage: /settings times 07:30 19:00 · /settings timezone Africa/Cairo · "
           "/settings items 10")


# sources ------------------------------------------------------------------------------------

def sources_page(context: ContextTypes.DEFAULT_TYPE, target: Target, number: int | None,
                 _: Gettext, *, clamp: bool = False
                 ) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Page ``number`` of /sources: text and buttons (``src:<id>:<page>``), or None."""
    feeds = sorted(services(context).store.feeds(active_only=True), key=lambda f: f.category)
    page = page_of(feeds, number, clamp=clamp)
    if page is None:
        return None
    heading = target.heading(_("Sources"), _)
    if not page.total:
        return _("<b>%(heading)s</b>: none yet.") % {"heading": heading}, None
    marks = ["⬜" if f.id in target.chat.excluded_feeds else "✅" for f in page.items]
    lines = grouped_lines(marks, page.items)
    buttons = [[Button(f"{mark} {clipped(f.name, LABEL_CHARS)}",
                       f"src:{f.id}:{page.number}{target.suffix}")]
               for mark, f in zip(marks, page.items, strict=True)]
    text = (_("<b>%(heading)s %(span)s</b> — tap to include or exclude:")
            % {"heading": heading, "span": page.span} + "\n" + "\n".join(lines))
    return text, paged(buttons, "src", page, target.suffix)


def grouped_lines(marks: Sequence[str], feeds: Sequence[FeedState]) -> list[str]:
    """A page's lines (HTML), each category's feeds under its name; uncategorised first."""
    lines: list[str] = []
    current = ""
    for mark, feed in zip(marks, feeds, strict=True):
        if feed.category != current:
            current = feed.category
            lines.append(f"<b>{listed(current)}</b>")
        lines.append(f"{mark} {listed(feed.name)}")
    return lines


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the sources, a page at a time, with a button each to include or exclude it."""
    target, args = await command_target(update, context, "sources")
    if target is None or await refuse_arguments(update, context, "sources", args):
        return
    shown = sources_page(context, target, 1, texts(update, context))
    assert shown is not None  # the first page always exists
    await reply(update, shown[0], reply_markup=shown[1])


async def source_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Toggle one source (``src:<id>[:<page>]``) or turn the page (``src:p:<page>``)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    target: Target | None
    if query.data.startswith("src:p:") and "@" not in query.data:  # anyone here may look
        target, data = Target(current_chat(update, context)), query.data
    else:
        target, data = await button_target(update, context)
    if target is None:
        return
    _ = texts(update, context)
    head, _sep, tail = data.removeprefix("src:").partition(":")
    if head == "p":
        await show_page(update, sources_page(context, target, parse_id(tail), _), "sources")
        return
    svc = services(context)
    feed_id, number = parse_id(head), parse_id(tail or "1")
    known = {f.id: f for f in svc.store.feeds(active_only=True)}
    if feed_id is None or feed_id not in known:
        await answer(update, _("That source is no longer available."), alert=True)
        return
    if not number:
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    excluded = feed_id not in target.chat.excluded_feeds
    svc.store.set_feed_excluded(target.chat.id, feed_id, excluded)
    note = (_("%(source)s: excluded") if excluded else _("%(source)s: included")) % {
        "source": clipped(known[feed_id].name, 150)}
    shown = sources_page(context, target.reloaded(context), number, _, clamp=True)
    await show_page(update, shown, "sources", note)


# settings -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Awaiting:
    """A "Custom…" prompt: who pressed it, for which setting, until when (monotonic)."""

    what: str  # "times" or "timezone"
    user_id: int
    until: float
    channel_id: int | None = None  # a channel managed from this private chat


def settings_text(target: Target, _: Gettext) -> str:
    chat, heading = target.chat, target.heading(_("Settings"), _)
    return (f"<b>{heading}</b>\n"
            + schedule_text(chat.times, chat.timezone, chat.max_items, _)
            + "\n" + _("Choose what to change:"))


def main_menu(target: Target, _: Gettext) -> InlineKeyboardMarkup:
    end = target.suffix
    return InlineKeyboardMarkup([[Button(_("🕗 Times"), f"set:times{end}"),
                                  Button(_("🌍 Timezone"), f"set:tz{end}"),
                                  Button(_("🔢 Items"), f"set:items{end}")]])


def times_menu(target: Target, _: Gettext) -> InlineKeyboardMarkup:
    chat, end = target.chat, target.suffix
    buttons = [Button(("✅ " if t in chat.times else "") + t, f"set:time:{t}{end}")
               for t in TIME_PRESETS]
    extra = [Button(_("✏️ Custom…"), f"set:custom:times{end}"),
             Button(_("⬅ Back"), f"set:menu{end}")]
    return InlineKeyboardMarkup([*rows(buttons, 4), extra])


def timezone_menu(target: Target, _: Gettext) -> InlineKeyboardMarkup:
    chat, end = target.chat, target.suffix
    buttons = [Button(("✅ " if z == chat.timezone else "") + z, f"set:zone:{z}{end}")
               for z in TIMEZONE_PRESETS]
    extra = [Button(_("✏️ Other…"), f"set:custom:tz{end}"),
             Button(_("⬅ Back"), f"set:menu{end}")]
    return InlineKeyboardMarkup([*rows(buttons, 2), extra])


def items_menu(target: Target, _: Gettext) -> InlineKeyboardMarkup:
    chat, end = target.chat, target.suffix
    buttons = [Button(("✅ " if n == chat.max_items else "") + str(n), f"set:n:{n}{end}")
               for n in ITEM_PRESETS]
    return InlineKeyboardMarkup([*rows(buttons, 6), [Button(_("⬅ Back"), f"set:menu{end}")]])


MENUS: dict[str, Callable[[Target, Gettext], InlineKeyboardMarkup]] = {
    "menu": main_menu, "times": times_menu, "tz": timezone_menu, "items": items_menu}
APPLIES = {"time": "times", "zone": "timezone", "n": "items"}
CUSTOM = {"times": "times", "tz": "timezone"}


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the digest settings as buttons, or set one: /settings [@channel] times 07:30."""
    target, args = await command_target(update, context, "settings")
    if target is None:
        return
    _ = texts(update, context)
    if args:
        if await refuse_change(update, context, target):
            return
        note = apply_setting(context, target.chat, args[0].lower(), args[1:], _)
        await reply(update, _naming(target, note, _))
        return
    await reply(update, settings_text(target, _), reply_markup=main_menu(target, _))


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Navigate the settings menus and apply presets: ``set:<action>[:<value>][@channel]``."""
    target, data = await button_target(update, context)
    if target is None:
        return
    _ = texts(update, context)
    _prefix, _sep, rest = data.partition(":")
    action, _sep, value = rest.partition(":")
    if action == "custom" and value in CUSTOM:
        await _ask_custom(update, context, CUSTOM[value], target, _)
        return
    if action in MENUS and not value:
        await answer(update)
        await edit(update, settings_text(target, _), MENUS[action](target, _))
        return
    if action not in APPLIES or not value:
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    note = _apply_button(context, target.chat, action, value, _)
    target = target.reloaded(context)
    await answer(update, clipped(note, 200))
    menu = {"time": times_menu, "zone": timezone_menu, "n": items_menu}[action]
    await edit(update, settings_text(target, _), menu(target, _))


async def _ask_custom(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str,
                      target: Target, _: Gettext) -> None:
    """Remember who pressed "Custom…" for what; only their next message is taken."""
    user = update.effective_user
    assert context.chat_data is not None and user is not None
    channel_id = target.chat.id if target.channel else None
    context.chat_data[AWAITING] = Awaiting(what, user.id, time.monotonic() + AWAIT_SECONDS,
                                           channel_id)
    await answer(update)
    await reply(update, _custom_prompt(what, target, _))


def _custom_prompt(what: str, target: Target, _: Gettext) -> str:
    name = {"channel": esc(target.channel)}
    if what == "times":
        return (_("Send the digest times of %(channel)s as HH:MM, separated by spaces "
                  "(e.g. 07:30 19:00).") % name if target.channel else
                _("Send the digest times as HH:MM, separated by spaces (e.g. 07:30 19:00)."))
    return (_("Send the timezone of %(channel)s: an IANA name, e.g. Africa/Cairo.") % name
            if target.channel else _("Send the timezone: an IANA name, e.g. Africa/Cairo."))


def _apply_button(context: ContextTypes.DEFAULT_TYPE, chat: Chat, action: str,
                  value: str, _: Gettext) -> str:
    if action == "time":
        times = [t for t in chat.times if t != value] if value in chat.times \
            else [*chat.times, value]
        if not times:
            return _("Keep at least one time; /unsubscribe stops the digests.")
        return apply_setting(context, chat, "times", times, _)
    return apply_setting(context, chat, APPLIES[action], [value], _)


async def typed_value(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A custom time or timezone typed, by the user who pressed "Custom…", after pressing it.

    Anyone else's messages are left alone (and the prompt stays open for its owner).
    """
    message, user = update.effective_message, update.effective_user
    if context.chat_data is None or message is None or user is None or not message.text:
        return
    awaiting = context.chat_data.get(AWAITING)
    if not isinstance(awaiting, Awaiting) or awaiting.user_id != user.id:
        return
    del context.chat_data[AWAITING]
    _ = texts(update, context)
    if time.monotonic() > awaiting.until:
        await reply(update, _("That prompt has expired. Open /settings and press Custom… "
                              "again."))
        return
    if awaiting.channel_id is not None:  # rights in the channel are checked again, now
        target = await channel_target(update, context, awaiting.channel_id)
    elif await refuse_unless_manager(update, context):
        return
    else:
        target = Target(current_chat(update, context))
    if target is None:
        return
    note = apply_setting(context, target.chat, awaiting.what, message.text.split(), _)
    await reply(update, _naming(target, note, _))


def _naming(target: Target, note: str, _: Gettext) -> str:
    """A plain-text answer as HTML, naming the channel when one is managed from here."""
    if not target.channel:
        return esc(note)
    return _("%(channel)s: %(note)s") % {"channel": esc(target.channel), "note": esc(note)}


def apply_setting(context: ContextTypes.DEFAULT_TYPE, chat: Chat, what: str,
                  values: list[str], _: Gettext) -> str:
    """Validate and store one setting and the next digest time; returns the plain-text answer."""
    checked = validate(what, values, _)
    if isinstance(checked, str):
        return checked
    store = services(context).store
    if what == "times":
        chat = store.update_chat_settings(chat.id, times=sorted(dict.fromkeys(checked)))
    elif what == "timezone":
        chat = store.update_chat_settings(chat.id, timezone=checked[0])
    else:
        chat = store.update_chat_settings(chat.id, max_items=int(checked[0]))
    reschedule(store, chat)
    # Plain text: the caller escapes it (schedule_text escapes for HTML, so undo that).
    return _("Saved.") + " " + html.unescape(
        schedule_text(chat.times, chat.timezone, chat.max_items, _))


def validate(what: str, values: list[str], _: Gettext) -> list[str] | str:
    """The values in canonical form, or a short plain-text reason they are refused."""
    if what not in ("times", "timezone", "items") or not values:
        return _(USAGE)
    long = next((v for v in values if len(v) > MAX_VALUE_CHARS), None)
    if long is not None:
        return _("That value is too long (max %(max)d characters).") % {"max": MAX_VALUE_CHARS}
    if what == "times":
        return _validate_times(values, _)
    if len(values) > 1:
        return (_("Give one timezone, e.g. /settings timezone Africa/Cairo.")
                if what == "timezone" else
                _("Give one number from 1 to %(max)d, e.g. /settings items 10.")
                % {"max": MAX_ITEMS})
    if what == "timezone":
        zone = canonical_timezone(values[0])
        if zone is None:
            return (_("Unknown timezone %(zone)s. Use an IANA name such as Africa/Cairo or "
                      "Europe/London.") % {"zone": clipped(values[0])})
        return [zone]
    if not re.fullmatch(r"[0-9]{1,3}", values[0]) or not 1 <= int(values[0]) <= MAX_ITEMS:
        return _("Items per digest must be a number from 1 to %(max)d.") % {"max": MAX_ITEMS}
    return [str(int(values[0]))]


def _validate_times(values: list[str], _: Gettext) -> list[str] | str:
    if len(set(values)) > MAX_TIMES:
        return _("At most %(max)d digest times, please.") % {"max": MAX_TIMES}
    times = ["0" + v if re.fullmatch(r"[0-9]:[0-9]{2}(:[0-9]{2})?", v) else v for v in values]
    bad = [v for v in times if not TIME_PATTERN.match(v)]
    if bad:
        return _("%(value)s is not a time; use HH:MM such as 07:30.") % {
            "value": clipped(bad[0], 20)}
    return times


@cache
def _timezones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def canonical_timezone(name: str) -> str | None:
    """The IANA name as spelled in the database (case-insensitive match), or None."""
    return _timezones().get(name.strip().lower())
