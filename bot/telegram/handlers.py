"""Reader commands: /start, /help, /subscribe, /unsubscribe, /digest, /search, unknown."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.digests import queue_digest
from bot.due import reschedule
from bot.query import query_help
from bot.telegram.common import (
    CHANNEL_NAME,
    INVALID_BUTTON,
    Target,
    answer,
    clipped,
    command_target,
    current_chat,
    esc,
    refuse_arguments,
    refuse_unless_manager,
    reply,
)
from bot.telegram.digests import asked_here
from bot.telegram.inline import HELP_START, READ_START
from bot.telegram.reading import read_article
from bot.telegram.services import services

log = logging.getLogger(__name__)
SUBSCRIBE_USAGE = ("Usage: /subscribe for this chat, or /subscribe @channel for a channel "
                   "you administer.")
COMMANDS = (
    ("subscribe", "Get English digests in this chat"),
    ("unsubscribe", "Stop the digests"),
    ("digest", "Send a digest now"),
    ("search", "Search the archive: /search words"),
    ("read", "An article in full, in English: /read ID"),
    ("sources", "Choose the sources of this chat"),
    ("filter", "Only or never stories with some words: /filter +word, /filter -word"),
    ("alert", "Stories with a word as soon as they arrive: /alert word"),
    ("settings", "Digest times, timezone and length"),
    ("help", "How to use Nashra"),
)


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS]


def command_list() -> str:
    return "\n".join(f"/{name} — {esc(description)}" for name, description in COMMANDS)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Introduce the bot with a Subscribe button and the command list; a deep link from an
    inline result (``read_ID``, ``search_help``) opens what it points to instead."""
    current_chat(update, context)
    payload = (context.args or [""])[0]
    if payload.startswith(READ_START):
        await read_article(update, context, payload.removeprefix(READ_START))
        return
    if payload == HELP_START:
        await reply(update, esc(query_help()))
        return
    text = ("<b>Nashra</b> — Arabic news, in English.\n"
            "I follow Arabic news sources and translate every new article offline.\n"
            "Subscribe for a digest at the times you choose, or /search the archive.\n\n"
            + command_list())
    button = InlineKeyboardButton("Subscribe", callback_data="subscribe")
    await reply(update, text, reply_markup=InlineKeyboardMarkup([[button]]))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands with a line of help each."""
    svc = services(context)
    minutes = svc.settings.fetch.interval_minutes
    await reply(update, "<b>Commands</b>\n" + command_list() +
                f"\n\nSources are checked every {minutes} minutes. A digest groups the "
                "reports of one event from several sources into one story, the most widely "
                "reported first; tap /read_ID under an item to read it in full. In groups, "
                "only administrators can change the subscription and settings. A channel's "
                "administrators manage it from a private chat with me: /settings @channel, "
                "/sources @channel, /filter @channel, /alert @channel, /unsubscribe @channel.")


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat (or a channel given as @name) with the default schedule."""
    if context.args:
        if len(context.args) > 1 or not CHANNEL_NAME.fullmatch(context.args[0]):
            await reply(update, SUBSCRIBE_USAGE)
            return
        await _subscribe_channel(update, context, context.args[0])
        return
    if await refuse_unless_manager(update, context):
        return
    await _subscribe_chat(update, context)


async def subscribe_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Subscribe button under /start."""
    query = update.callback_query
    assert query is not None
    if await refuse_unless_manager(update, context):
        return
    await answer(update)
    await _subscribe_chat(update, context)


async def _subscribe_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = current_chat(update, context)
    # Subscribing from a forum topic (the message, or the /start reply a button sits on)
    # means "post here"; from General or a chat without topics, the chat itself.
    message = update.effective_message
    topic = message.message_thread_id if message and message.is_topic_message else None
    svc.store.set_subscribed(chat.id, True, datetime.now(UTC))
    svc.store.set_thread(chat.id, topic)
    chat = svc.store.get_chat(chat.id) or chat
    reschedule(svc.store, chat)
    where = "\nDigests will be posted in this topic." if topic is not None else ""
    await reply(update, "Subscribed. " + schedule_text(chat.times, chat.timezone, chat.max_items)
                + where + "\nChange it with /settings, pick sources with /sources.")


def schedule_text(times: tuple[str, ...], timezone: str, items: int) -> str:
    return (f"Digests at {esc(', '.join(times))} ({esc(timezone)}), "
            f"up to {items} stories each.")


async def _subscribe_channel(update: Update, context: ContextTypes.DEFAULT_TYPE,
                             name: str) -> None:
    user = update.effective_user
    assert user is not None
    try:
        channel = await context.bot.get_chat(name)
        member = await context.bot.get_chat_member(channel.id, user.id)
        me = await context.bot.get_chat_member(channel.id, context.bot.id)
    except TelegramError:
        await reply(update, f"I cannot see {esc(name)}. Add me to the channel as an "
                    "administrator first.")
        return
    if channel.type != ChatType.CHANNEL:
        await reply(update, f"{esc(name)} is not a channel. Use /subscribe inside a group.")
        return
    if member.status not in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR):
        await reply(update, "Only the channel's administrators can subscribe it.")
        return
    if me.status != ChatMemberStatus.ADMINISTRATOR:
        await reply(update, "Make me an administrator of the channel so I can post there.")
        return
    svc = services(context)
    chat = svc.chat_for(channel.id, channel.type, channel.title or name)
    svc.store.set_subscribed(chat.id, True, datetime.now(UTC))
    reschedule(svc.store, svc.store.get_chat(chat.id) or chat)
    await reply(update, f"Subscribed {esc(name)}. "
                + schedule_text(chat.times, chat.timezone, chat.max_items)
                + f"\nManage it from here: /settings {esc(name)}, /sources {esc(name)}, "
                f"/filter {esc(name)}, /alert {esc(name)}.")


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop this chat's digests, or a channel's: /unsubscribe @channel."""
    args = context.args or []
    target: Target | None
    if len(args) == 1 and args[0].startswith("@"):
        target, _rest = await command_target(update, context, "unsubscribe")
    elif await refuse_arguments(update, context, "unsubscribe"):
        return
    else:
        manager = not await refuse_unless_manager(update, context)
        target = Target(current_chat(update, context)) if manager else None
    if target is None:
        return
    svc = services(context)
    svc.store.set_subscribed(target.chat.id, False, datetime.now(UTC))
    reschedule(svc.store, svc.store.get_chat(target.chat.id) or target.chat)
    if target.channel:
        name = esc(target.channel)
        await reply(update, f"Unsubscribed {name}: no more digests there. "
                    f"/subscribe {name} brings them back.")
        return
    await reply(update, "Unsubscribed: no more digests here. /subscribe brings them back.")


async def digest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the top stories this chat has not been sent yet, now, where it was asked."""
    if await refuse_arguments(update, context, "digest"):
        return
    svc = services(context)
    chat = current_chat(update, context)
    now = datetime.now(UTC)
    if queue_digest(svc, asked_here(update, chat), now):
        return
    if chat.last_digest_at:
        local = chat.last_digest_at.astimezone(ZoneInfo(chat.timezone))
        await reply(update, f"Nothing new since {local:%H:%M} ({esc(chat.timezone)}).")
    else:
        await reply(update, f"Nothing in the last {svc.settings.digest.max_age_hours} hours "
                    f"yet. Sources are checked every {svc.settings.fetch.interval_minutes} "
                    "minutes.")


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point unknown commands at /help."""
    await reply(update, "I don't know that command. /help lists what I can do.")


async def chat_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its settings, sources and words move to the new id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    svc = services(context)
    svc.store.migrate_chat(old, new)  # both service messages come; the second finds nothing
    chat = svc.store.get_chat(new)
    if chat is not None:
        reschedule(svc.store, chat)
        svc.outbox.notify()  # messages queued for the old id now go to the new one
    log.info("chat %s migrated to %s", old, new)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any button press no other handler understands (forged, or from an old version)."""
    data = update.callback_query.data if update.callback_query else None
    log.info("unknown callback data %r", clipped(data or "", 70))
    await answer(update, INVALID_BUTTON, alert=True)


SORRY = "Sorry, something went wrong with that. Please try again in a moment."


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user briefly; never a stack trace in the chat."""
    log.error("update failed: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(SORRY, show_alert=True)
                return
            except BadRequest:  # already answered, or too old: say it in the chat instead
                pass
        if update.effective_message is not None:
            await update.effective_message.reply_text(SORRY)
    except TelegramError:
        log.warning("could not send the error notice")


