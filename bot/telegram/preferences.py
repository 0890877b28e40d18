"""Per-chat preferences: /sources and /settings, as buttons, typed values and callbacks.

Callback data: ``src:<feed id>`` toggles a source; ``set:<what>[:<value>]`` drives the
settings menus (times, timezone, items). A custom time or timezone is typed after pressing
"Custom…", or given directly: ``/settings times 07:30 19:00``, ``/settings timezone
Africa/Cairo``, ``/settings items 5``.
"""

from __future__ import annotations

import zoneinfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.config import TIME_PATTERN
from bot.digest import isolate
from bot.models import Chat
from bot.telegram.common import current_chat, esc, refuse_unless_manager, reply
from bot.telegram.handlers import schedule_text
from bot.telegram.schedule import job_queue, schedule_chat
from bot.telegram.services import services

TIME_PRESETS = ("06:00", "07:00", "08:00", "12:00", "18:00", "20:00", "22:00")
TIMEZONE_PRESETS = ("UTC", "Africa/Cairo", "Asia/Riyadh", "Asia/Dubai", "Asia/Beirut",
                    "Europe/London", "Europe/Berlin", "America/New_York")
ITEM_PRESETS = (3, 5, 10, 15, 20, 30)
MAX_TIMES = 6
AWAITING = "awaiting"


def Button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


# sources ------------------------------------------------------------------------------------

def sources_markup(update: Update, context: ContextTypes.DEFAULT_TYPE,
                   chat: Chat) -> InlineKeyboardMarkup:
    feeds = services(context).store.feeds(active_only=True)
    buttons = [Button(("⬜ " if f.id in chat.excluded_feeds else "✅ ") + f.name, f"src:{f.id}")
               for f in feeds]
    return InlineKeyboardMarkup(rows(buttons, 1))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the sources with a button each to include or exclude it here."""
    chat = current_chat(update, context)
    names = [f"{'⬜' if f.id in chat.excluded_feeds else '✅'} {esc(isolate(f.name))}"
             for f in services(context).store.feeds(active_only=True)]
    await reply(update, "<b>Sources</b> — tap to include or exclude:\n" + "\n".join(names),
                reply_markup=sources_markup(update, context, chat))


async def source_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Toggle one source for this chat."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await refuse_unless_manager(update, context):
        return
    svc = services(context)
    feed_id = query.data.removeprefix("src:")
    known = {f.id: f for f in svc.store.feeds(active_only=True)}
    if not feed_id.isdigit() or int(feed_id) not in known:
        await query.answer("That source is no longer available.", show_alert=True)
        return
    chat = current_chat(update, context)
    excluded = int(feed_id) not in chat.excluded_feeds
    svc.store.set_feed_excluded(chat.id, int(feed_id), excluded)
    name = known[int(feed_id)].name
    await query.answer(f"{name}: {'excluded' if excluded else 'included'}")
    await query.edit_message_reply_markup(
        sources_markup(update, context, current_chat(update, context)))


# settings -----------------------------------------------------------------------------------

def settings_text(chat: Chat) -> str:
    return ("<b>Settings</b>\n" + schedule_text(chat.times, chat.timezone, chat.max_items)
            + "\nChoose what to change:")


def main_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[Button("🕗 Times", "set:times"),
                                  Button("🌍 Timezone", "set:tz"),
                                  Button("🔢 Items", "set:items")]])


def times_menu(chat: Chat) -> InlineKeyboardMarkup:
    buttons = [Button(("✅ " if t in chat.times else "") + t, f"set:time:{t}")
               for t in TIME_PRESETS]
    extra = [Button("✏️ Custom…", "set:custom:times"), Button("⬅ Back", "set:menu")]
    return InlineKeyboardMarkup([*rows(buttons, 4), extra])


def timezone_menu(chat: Chat) -> InlineKeyboardMarkup:
    buttons = [Button(("✅ " if z == chat.timezone else "") + z, f"set:zone:{z}")
               for z in TIMEZONE_PRESETS]
    extra = [Button("✏️ Other…", "set:custom:tz"), Button("⬅ Back", "set:menu")]
    return InlineKeyboardMarkup([*rows(buttons, 2), extra])


def items_menu(chat: Chat) -> InlineKeyboardMarkup:
    buttons = [Button(("✅ " if n == chat.max_items else "") + str(n), f"set:n:{n}")
               for n in ITEM_PRESETS]
    return InlineKeyboardMarkup([*rows(buttons, 6), [Button("⬅ Back", "set:menu")]])


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show this chat's digest settings as buttons, or set one: /settings times 07:30."""
    chat = current_chat(update, context)
    if context.args:
        if await refuse_unless_manager(update, context):
            return
        what, values = context.args[0].lower(), context.args[1:]
        await reply(update, apply_setting(context, chat, what, values))
        return
    await reply(update, settings_text(chat), reply_markup=main_menu())


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Navigate the settings menus and apply presets."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await refuse_unless_manager(update, context):
        return
    _prefix, _sep, rest = query.data.partition(":")
    action, _sep, value = rest.partition(":")
    chat = current_chat(update, context)
    note = ""
    if action == "custom":
        assert context.chat_data is not None
        context.chat_data[AWAITING] = value
        prompt = ("Send the digest times as HH:MM, separated by spaces (e.g. 07:30 19:00)."
                  if value == "times" else "Send an IANA timezone name, e.g. Africa/Cairo.")
        await query.answer()
        await reply(update, prompt)
        return
    if action in ("time", "zone", "n"):
        note = _apply_button(context, chat, action, value)
        chat = current_chat(update, context)
    menus = {"times": times_menu, "time": times_menu, "tz": timezone_menu,
             "zone": timezone_menu, "items": items_menu, "n": items_menu}
    markup = menus[action](chat) if action in menus else main_menu()
    await query.answer(note)
    await query.edit_message_text(settings_text(chat), parse_mode=ParseMode.HTML,
                                  reply_markup=markup)


def _apply_button(context: ContextTypes.DEFAULT_TYPE, chat: Chat, action: str,
                  value: str) -> str:
    if action == "time":
        times = [t for t in chat.times if t != value] if value in chat.times \
            else [*chat.times, value]
        if not times:
            return "Keep at least one time; /unsubscribe stops the digests."
        return apply_setting(context, chat, "times", times)
    if action == "zone":
        return apply_setting(context, chat, "timezone", [value])
    return apply_setting(context, chat, "items", [value])


async def typed_value(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A custom time or timezone typed after pressing "Custom…"."""
    assert context.chat_data is not None
    awaiting = context.chat_data.pop(AWAITING, None)
    message = update.effective_message
    if awaiting is None or message is None or not message.text:
        return
    if await refuse_unless_manager(update, context):
        return
    what = "times" if awaiting == "times" else "timezone"
    chat = current_chat(update, context)
    await reply(update, apply_setting(context, chat, what, message.text.split()))


def apply_setting(context: ContextTypes.DEFAULT_TYPE, chat: Chat, what: str,
                  values: list[str]) -> str:
    """Validate and store one setting, move the chat's jobs; returns the answer to show."""
    problem = _validate(what, values)
    if problem:
        return problem
    store = services(context).store
    if what == "times":
        times = sorted(dict.fromkeys(values))
        chat = store.update_chat_settings(chat.id, times=times)
    elif what == "timezone":
        chat = store.update_chat_settings(chat.id, timezone=values[0])
    else:
        chat = store.update_chat_settings(chat.id, max_items=int(values[0]))
    schedule_chat(job_queue(context), chat)
    return "Saved. " + schedule_text(chat.times, chat.timezone, chat.max_items)


def _validate(what: str, values: list[str]) -> str | None:
    usage = ("Usage: /settings times 07:30 19:00 · /settings timezone Africa/Cairo · "
             "/settings items 10")
    if what not in ("times", "timezone", "items") or not values:
        return usage
    if what == "times":
        bad = [v for v in values if not TIME_PATTERN.match(v)]
        if bad:
            return f"{esc(bad[0][:20])} is not a time; use HH:MM such as 07:30."
        if len(set(values)) > MAX_TIMES:
            return f"At most {MAX_TIMES} digest times, please."
        return None
    if what == "timezone":
        try:
            zoneinfo.ZoneInfo(values[0])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return (f"Unknown timezone {esc(values[0][:40])}. Use an IANA name such as "
                    "Africa/Cairo or Europe/London.")
        return None
    if not values[0].isdigit() or not 1 <= int(values[0]) <= 30:
        return "Items per digest must be a number from 1 to 30."
    return None
