"""Small helpers the handlers share: replies, permissions, escaping."""

from __future__ import annotations

import html

from telegram import LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.models import Chat
from bot.telegram.services import services

MANAGERS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def esc(text: str) -> str:
    return html.escape(text, quote=False)


async def reply(update: Update, text: str, **kwargs: object) -> Message | None:
    """Reply in HTML without link previews; silently nothing for updates without a message."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, parse_mode=ParseMode.HTML,
                                    link_preview_options=NO_PREVIEW, **kwargs)  # type: ignore[arg-type]


def current_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat:
    """This update's chat as the store knows it (created with defaults on first contact)."""
    chat = update.effective_chat
    assert chat is not None
    title = chat.title or chat.username or chat.full_name or str(chat.id)
    return services(context).chat_for(chat.id, chat.type, title)


async def may_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Anyone in a private chat; only chat administrators in groups."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in MANAGERS


async def refuse_unless_manager(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True (after telling the user) when this user may not change this chat's settings."""
    if await may_manage(update, context):
        return False
    text = "Only this group's administrators can change its subscription and settings."
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await reply(update, text)
    return True


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context).settings.telegram.admins
