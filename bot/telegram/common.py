"""Small helpers the handlers share: replies, permissions, escaping, argument checks."""

from __future__ import annotations

import html
import logging
import re

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.models import Chat
from bot.telegram.services import services

log = logging.getLogger(__name__)
MANAGERS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
NOT_MANAGER = "Only this group's administrators can change its subscription and settings."
INVALID_BUTTON = "That button is no longer valid. Send the command again."
# Ids in callback data and arguments: plain ASCII digits, small enough for SQLite.
_ID = re.compile(r"[0-9]{1,12}")


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
    """This update's chat as the store knows it (created with defaults on first contact)."""
    chat = update.effective_chat
    assert chat is not None
    title = chat.title or chat.username or chat.full_name or str(chat.id)
    return services(context).chat_for(chat.id, chat.type, title)


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
    await refuse(update, NOT_MANAGER)
    return True


async def refuse(update: Update, text: str) -> None:
    """Say no where the user acted: an alert on a pressed button, else a reply."""
    if update.callback_query:
        await answer(update, text, alert=True)
    else:
        await reply(update, text)


async def refuse_arguments(update: Update, context: ContextTypes.DEFAULT_TYPE,
                           command: str) -> bool:
    """True (after saying so) when a command that takes no arguments was given some."""
    if not context.args:
        return False
    await reply(update, f"/{command} takes no arguments — send just /{command}.")
    return True


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context).settings.telegram.admins
