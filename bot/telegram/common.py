"""Small helpers the handlers share: replies, permissions, escaping, argument checks, and
the chat a command or button acts on (this chat, or a channel managed from a private chat).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.i18n import N_, Gettext, Ngettext, language_for, translation
from bot.models import Chat
from bot.telegram.services import services

log = logging.getLogger(__name__)
MANAGERS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Shown with _() where used: _(NOT_MANAGER), _(INVALID_BUTTON).
NOT_MANAGER = N_("Only this group's administrators can change its subscription and settings.")
INVALID_BUTTON = N_("That button is no longer valid. Send the command again.")
# Ids in callback data and arguments: plain ASCII digits, small enough for SQLite.
_ID = re.compile(r"[0-9]{1,12}")
CHANNEL_NAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# Callback data of a menu opened for a channel ends with "@<channel id>" (e.g. "set:tz@-100…").
_CHANNEL_SUFFIX = re.compile(r"@(-[0-9]{1,15})$")


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def parse_id(text: str) -> int | None:
    """A non-negative id from untrusted text (callback data, arguments), else None."""
    return int(text) if _ID.fullmatch(text) else None


def clipped(text: str, limit: int = 40) -> str:
    """Untrusted text quoted back to the user: one line, at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def reply(update: Update, text: str, **kwargs: object) -> Message | None:
    """Reply in HTML without link previews; silently nothing for updates without a message."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, parse_mode=ParseMode.HTML,
                                    link_preview_options=NO_PREVIEW, **kwargs)  # type: ignore[arg-type]


async def answer(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press; a press too old to answer (e.g. after a restart) is fine."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.debug("could not answer a callback query: %s", exc)


async def edit(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Edit the pressed button's message in place; an unchanged or vanished one is fine."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML,
                                      link_preview_options=NO_PREVIEW, reply_markup=markup)
    except BadRequest as exc:
        log.debug("could not edit the message of a callback query: %s", exc)


def current_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat:
    """This update's chat as the store knows it (created with defaults on first contact;
    its interface language is its first user's Telegram language)."""
    chat = update.effective_chat
    assert chat is not None
    title = chat.title or chat.username or chat.full_name or str(chat.id)
    return services(context).chat_for(chat.id, chat.type, title, user_language(update))


# the interface language -------------------------------------------------------------------

def user_language(update: Update) -> str | None:
    """The interface language of the update's user ("ar…" Arabic, else English); None
    without a user (a channel post)."""
    user = update.effective_user
    return language_for(None, user.language_code) if user is not None else None


def update_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language to answer this update in: its chat's (set on first contact, or with
    /language), else its user's (inline queries have no chat)."""
    if update.effective_chat is None:
        return user_language(update) or language_for(None)
    return language_for(current_chat(update, context).language, user_language(update))


def texts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Gettext:
    """``_`` for this update's chat: ``_ = texts(update, context)``, then ``_("…")``."""
    return translation(update_language(update, context)).gettext


def ntexts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Ngettext:
    """``ngettext`` for this update's chat: ``ngettext("%(n)d story", "%(n)d stories", n)
    % {"n": n}``."""
    return translation(update_language(update, context)).ngettext


async def may_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Anyone in a private chat; only chat administrators in groups (and channels)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return chat.id == user.id
    message = update.message
    if message is not None and message.sender_chat is not None \
            and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator writes as the group itself
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check the status of user %s in chat %s: %s", user.id, chat.id,
                    exc)
        return False
    return member.status in MANAGERS


async def refuse_unless_manager(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True (after telling the user) when this user may not change this chat's settings."""
    if await may_manage(update, context):
        return False
    await refuse(update, texts(update, context)(NOT_MANAGER))
    return True


async def refuse(update: Update, text: str) -> None:
    """Say no where the user acted: an alert on a pressed button, else a reply."""
    if update.callback_query:
        await answer(update, text, alert=True)
    else:
        await reply(update, text)


async def refuse_arguments(update: Update, context: ContextTypes.DEFAULT_TYPE,
                           command: str, args: Sequence[str] | None = None) -> bool:
    """True (after saying so) when a command that takes no arguments was given some
    (``args``: what is left after a channel name, else the command's arguments)."""
    if not (context.args if args is None else args):
        return False
    _ = texts(update, context)
    await reply(update, _("%(command)s takes no arguments — send just %(command)s.")
                % {"command": f"/{command}"})
    return True


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context).settings.telegram.admins


# the chat acted on ------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """The chat a command or button changes: the chat it was sent in, or a channel its
    administrator manages from a private chat (then ``channel`` is its @name)."""

    chat: Chat
    channel: str = ""

    @property
    def suffix(self) -> str:
        """For callback data: each press names the channel, so it can be checked again."""
        return f"@{self.chat.id}" if self.channel else ""

    def heading(self, title: str, _: Gettext) -> str:
        """"Settings" here, "Settings for @name" for a channel (HTML; ``title`` translated)."""
        if not self.channel:
            return title
        return _("%(title)s for %(channel)s") % {"title": title, "channel": esc(self.channel)}

    def reloaded(self, context: ContextTypes.DEFAULT_TYPE) -> Target:
        """The same target with the chat as stored now (after a change)."""
        chat = services(context).store.get_chat(self.chat.id)
        return Target(chat or self.chat, self.channel)


async def command_target(update: Update, context: ContextTypes.DEFAULT_TYPE,
                         command: str) -> tuple[Target | None, list[str]]:
    """This chat, or the channel named by a first argument ``@name`` (checked: see
    :func:`channel_target`); and the arguments after it. None after saying why not."""
    args = list(context.args or [])
    if not args or not args[0].startswith("@"):
        return Target(current_chat(update, context)), args
    if not CHANNEL_NAME.fullmatch(args[0]):
        _ = texts(update, context)
        await reply(update, _("%(name)s is not a channel name. Send %(example)s in a private "
                              "chat with me.")
                    % {"name": esc(clipped(args[0])), "example": f"/{command} @channelname"})
        return None, []
    return await channel_target(update, context, args[0]), args[1:]


async def button_target(update: Update, context: ContextTypes.DEFAULT_TYPE
                        ) -> tuple[Target | None, str]:
    """The chat a pressed button changes, checked now, and its callback data without the
    channel suffix. This chat needs :func:`may_manage`; a channel, :func:`channel_target`."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = _CHANNEL_SUFFIX.search(query.data)
    if match is None:
        if await refuse_unless_manager(update, context):
            return None, query.data
        return Target(current_chat(update, context)), query.data
    return await channel_target(update, context, int(match[1])), query.data[:match.start()]


async def refuse_change(update: Update, context: ContextTypes.DEFAULT_TYPE,
                        target: Target) -> bool:
    """True (after saying so) when this user may not change ``target``. A channel target was
    checked when it was resolved, during this same update."""
    return False if target.channel else await refuse_unless_manager(update, context)


async def channel_target(update: Update, context: ContextTypes.DEFAULT_TYPE,
                         ref: str | int) -> Target | None:
    """The channel ``ref`` (@name or id) when the user administers it right now and the bot
    knows it (it was subscribed once); else None after saying why. Private chats only."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    _ = texts(update, context)
    if chat.type != ChatType.PRIVATE:
        await refuse(update, _("Manage a channel from a private chat with me."))
        return None
    name = ref if isinstance(ref, str) else _("that chat")
    try:
        channel = await context.bot.get_chat(ref)
    except TelegramError:
        await refuse(update, _("I cannot see %(name)s. Add me to the channel as an "
                               "administrator first.") % {"name": esc(name)})
        return None
    if channel.type != ChatType.CHANNEL:
        await refuse(update, _("%(name)s is not a channel.") % {"name": esc(name)})
        return None
    name = f"@{channel.username}" if channel.username else channel.title or name
    if not await _administers(context, channel.id, user.id):
        await refuse(update, _("Only the administrators of %(name)s can manage it here.")
                     % {"name": esc(name)})
        return None
    known = services(context).store.get_chat(channel.id)
    if known is None or known.type != ChatType.CHANNEL:
        await refuse(update, _("I don't know %(name)s yet. Subscribe it first: "
                               "/subscribe %(name)s") % {"name": esc(name)})
        return None
    return Target(known, name)


async def _administers(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("could not check the status of user %s in channel %s: %s", user_id,
                    chat_id, exc)
        return False
    return member.status in MANAGERS
