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
from bot.i18n import DEFAULT_LANGUAGE, N_, Gettext, Ngettext, language_for, translation
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
    texts,
    update_language,
    user_language,
)
from bot.telegram.digests import asked_here
from bot.telegram.inline import HELP_START, READ_START
from bot.telegram.reading import read_article
from bot.telegram.services import services

log = logging.getLogger(__name__)
SUBSCRIBE_USAGE = N_("Usage: /subscribe for this chat, or /subscribe @channel for a channel "
                     "you administer.")
# Descriptions are translated where shown: bot_commands(language), command_list(_).
COMMANDS = (
    ("subscribe", N_("Get English digests in this chat")),
    ("unsubscribe", N_("Stop the digests")),
    ("digest", N_("Send a digest now")),
    ("search", N_("Search the archive: /search words")),
    ("read", N_("An article in full, in English: /read ID")),
    ("sources", N_("Choose the sources of this chat")),
    ("filter", N_("Only or never stories with some words: /filter +word, /filter -word")),
    ("alert", N_("Stories with a word as soon as they arrive: /alert word")),
    ("settings", N_("Digest times, timezone and length")),
    ("language", N_("Interface language: English or Arabic")),
    ("help", N_("How to use Nashra")),
)


def bot_commands(language: str = DEFAULT_LANGUAGE) -> list[BotCommand]:
    """The command menu in ``language`` (setMyCommands, one list per language)."""
    _ = translation(language).gettext
    return [BotCommand(name, _(description)) for name, description in COMMANDS]


def command_list(_: Gettext) -> str:
    return "\n".join(_("%(command)s — %(description)s")
                     % {"command": f"/{name}", "description": esc(_(description))}
                     for name, description in COMMANDS)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Introduce the bot with a Subscribe button and the command list; a deep link from an
    inline result (``read_ID``, ``search_help``) opens what it points to instead."""
    current_chat(update, context)
    payload = (context.args or [""])[0]
    if payload.startswith(READ_START):
        await read_article(update, context, payload.removeprefix(READ_START))
        return
    _ = texts(update, context)
    if payload == HELP_START:
        await reply(update, esc(query_help(_)))
        return
    text = (_("<b>Nashra</b> — Arabic news, in English.\n"
              "I follow Arabic news sources and translate every new article offline.\n"
              "Subscribe for a digest at the times you choose, or /search the archive.")
            + "\n\n" + command_list(_))
    button = InlineKeyboardButton(_("Subscribe"), callback_data="subscribe")
    await reply(update, text, reply_markup=InlineKeyboardMarkup([[button]]))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands with a line of help each."""
    svc = services(context)
    minutes = svc.settings.fetch.interval_minutes
    words = translation(update_language(update, context))
    _ = words.gettext
    await reply(update, _("<b>Commands</b>") + "\n" + command_list(_) + "\n\n"
                + checked_every(minutes, words.ngettext) + " " +
                _("A digest groups the reports of one event from several sources into one "
                  "story, the most widely reported first; tap /read_ID under an item to read "
                  "it in full. In groups, only administrators can change the subscription and "
                  "settings. A channel's administrators manage it from a private chat with "
                  "me: /settings @channel, /sources @channel, /filter @channel, "
                  "/alert @channel, /language @channel, /unsubscribe @channel."))


def checked_every(minutes: int, ngettext: Ngettext) -> str:
    return ngettext("Sources are checked every %(minutes)d minute.",
                    "Sources are checked every %(minutes)d minutes.", minutes) % {
        "minutes": minutes}


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat (or a channel given as @name) with the default schedule."""
    if context.args:
        if len(context.args) > 1 or not CHANNEL_NAME.fullmatch(context.args[0]):
            await reply(update, texts(update, context)(SUBSCRIBE_USAGE))
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
    _ = translation(language_for(chat.language)).gettext
    where = "\n" + _("Digests will be posted in this topic.") if topic is not None else ""
    await reply(update, _("Subscribed.") + " "
                + schedule_text(chat.times, chat.timezone, chat.max_items, _)
                + where + "\n" + _("Change it with /settings, pick sources with /sources."))


def schedule_text(times: tuple[str, ...], timezone: str, items: int, _: Gettext) -> str:
    return (_("Digests at %(times)s (%(timezone)s), up to %(items)d stories each.")
            % {"times": esc(", ".join(times)), "timezone": esc(timezone), "items": items})


async def _subscribe_channel(update: Update, context: ContextTypes.DEFAULT_TYPE,
                             name: str) -> None:
    user = update.effective_user
    assert user is not None
    _ = texts(update, context)
    try:
        channel = await context.bot.get_chat(name)
        member = await context.bot.get_chat_member(channel.id, user.id)
        me = await context.bot.get_chat_member(channel.id, context.bot.id)
    except TelegramError:
        await reply(update, _("I cannot see %(name)s. Add me to the channel as an "
                              "administrator first.") % {"name": esc(name)})
        return
    if channel.type != ChatType.CHANNEL:
        await reply(update, _("%(name)s is not a channel. Use /subscribe inside a group.")
                    % {"name": esc(name)})
        return
    if member.status not in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR):
        await reply(update, _("Only the channel's administrators can subscribe it."))
        return
    if me.status != ChatMemberStatus.ADMINISTRATOR:
        await reply(update, _("Make me an administrator of the channel so I can post there."))
        return
    svc = services(context)
    # The channel's digests speak the language of the administrator who subscribed it.
    chat = svc.chat_for(channel.id, channel.type, channel.title or name, user_language(update))
    svc.store.set_subscribed(chat.id, True, datetime.now(UTC))
    reschedule(svc.store, svc.store.get_chat(chat.id) or chat)
    await reply(update, _("Subscribed %(name)s.") % {"name": esc(name)} + " "
                + schedule_text(chat.times, chat.timezone, chat.max_items, _) + "\n"
                + _("Manage it from here: /settings %(name)s, /sources %(name)s, "
                    "/filter %(name)s, /alert %(name)s, /language %(name)s.")
                % {"name": esc(name)})


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
    _ = texts(update, context)
    if target.channel:
        await reply(update, _("Unsubscribed %(name)s: no more digests there. "
                              "/subscribe %(name)s brings them back.")
                    % {"name": esc(target.channel)})
        return
    await reply(update, _("Unsubscribed: no more digests here. /subscribe brings them back."))


async def digest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the top stories this chat has not been sent yet, now, where it was asked."""
    if await refuse_arguments(update, context, "digest"):
        return
    svc = services(context)
    chat = current_chat(update, context)
    now = datetime.now(UTC)
    if queue_digest(svc, asked_here(update, chat), now):
        return
    words = translation(language_for(chat.language, user_language(update)))
    if chat.last_digest_at:
        local = chat.last_digest_at.astimezone(ZoneInfo(chat.timezone))
        await reply(update, words.gettext("Nothing new since %(time)s (%(timezone)s).")
                    % {"time": f"{local:%H:%M}", "timezone": esc(chat.timezone)})
        return
    hours = svc.settings.digest.max_age_hours
    await reply(update, words.ngettext("Nothing in the last %(hours)d hour yet.",
                                       "Nothing in the last %(hours)d hours yet.", hours)
                % {"hours": hours} + " "
                + checked_every(svc.settings.fetch.interval_minutes, words.ngettext))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point unknown commands at /help."""
    _ = texts(update, context)
    await reply(update, _("I don't know that command. /help lists what I can do."))


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
    await answer(update, texts(update, context)(INVALID_BUTTON), alert=True)


SORRY = N_("Sorry, something went wrong with that. Please try again in a moment.")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user briefly; never a stack trace in the chat."""
    log.error("update failed: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    sorry = _sorry(update, context)
    try:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(sorry, show_alert=True)
                return
            except BadRequest:  # already answered, or too old: say it in the chat instead
                pass
        if update.effective_message is not None:
            await update.effective_message.reply_text(sorry)
    except TelegramError:
        log.warning("could not send the error notice")


def _sorry(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """SORRY in the chat's language; in the user's when the database itself failed."""
    try:
        return texts(update, context)(SORRY)
    except Exception:  # the error being reported may be the store's
        return translation(user_language(update) or language_for(None)).gettext(SORRY)
