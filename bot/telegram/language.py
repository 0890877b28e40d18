"""/language: the chat's interface language, shown with a button per language.

Callback data ``lang:<code>[@<channel id>]``. Anyone may look; in groups only administrators
change it (like /settings), and a channel's administrator sets the channel's from a private
chat: ``/language @channel [ar|en]``. A new chat starts in its first user's Telegram
language (see :func:`bot.telegram.common.current_chat`).
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.i18n import LANGUAGES, NATIVE_NAMES, Gettext, language_for
from bot.telegram.common import (
    INVALID_BUTTON,
    Target,
    answer,
    button_target,
    command_target,
    edit,
    esc,
    refuse_change,
    reply,
    texts,
)
from bot.telegram.paging import Button
from bot.telegram.services import services

PREFIX = "lang:"


def language_text(target: Target, _: Gettext) -> str:
    current = NATIVE_NAMES[language_for(target.chat.language)]
    heading = target.heading(_("Language"), _)
    return (f"<b>{heading}</b>: {esc(current)}\n"
            + _("Choose the language of my messages and digests:"))


def language_menu(target: Target) -> InlineKeyboardMarkup:
    current = language_for(target.chat.language)
    return InlineKeyboardMarkup([[
        Button(("✅ " if code == current else "") + NATIVE_NAMES[code],
               f"{PREFIX}{code}{target.suffix}")
        for code in LANGUAGES]])


def chosen(word: str) -> str | None:
    """A language from what a user typed: a code ("ar", "en") or a native name."""
    word = word.strip().lower()
    return next((code for code in LANGUAGES
                 if word in (code, NATIVE_NAMES[code].lower())), None)


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the interface language with buttons, or set it: /language [@channel] ar."""
    target, args = await command_target(update, context, "language")
    if target is None:
        return
    _ = texts(update, context)
    if not args:
        await reply(update, language_text(target, _), reply_markup=language_menu(target))
        return
    code = chosen(" ".join(args))
    if code is None:
        await reply(update, _("Usage: /language, or /language en, or /language ar."))
        return
    if await refuse_change(update, context, target):
        return
    services(context).store.set_chat_language(target.chat.id, code)
    _ = texts(update, context)  # this chat may just have changed language
    await reply(update, _changed(target.reloaded(context), _))


async def language_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Switch to the pressed language: ``lang:<code>[@channel]``."""
    target, data = await button_target(update, context)
    if target is None:
        return
    code = data.removeprefix(PREFIX)
    if code not in LANGUAGES:
        await answer(update, texts(update, context)(INVALID_BUTTON), alert=True)
        return
    services(context).store.set_chat_language(target.chat.id, code)
    target = target.reloaded(context)
    _ = texts(update, context)
    await answer(update, _changed(target, _))
    await edit(update, language_text(target, _), language_menu(target))


def _changed(target: Target, _: Gettext) -> str:
    name = NATIVE_NAMES[language_for(target.chat.language)]
    if target.channel:
        return _("%(channel)s now gets its digests and messages in %(language)s.") % {
            "channel": esc(target.channel), "language": name}
    return _("Language: %(language)s.") % {"language": name}
