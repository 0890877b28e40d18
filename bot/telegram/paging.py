"""Long lists a page at a time (feeds, sources), and the small button helpers menus share.

A page holds ``PAGE_SIZE`` entries with clipped names, so it always fits Telegram's 4096-unit
message limit and 100-button keyboard limit however many feeds there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.digest import isolate
from bot.i18n import DEFAULT_LANGUAGE, N_, Gettext, gettext_for
from bot.telegram.common import answer, clipped, edit, esc

T = TypeVar("T")


def Button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


PAGE_SIZE = 10  # 10 clipped names (≤ 2 UTF-16 units a character) stay far below 4096
NAME_CHARS, LABEL_CHARS = 60, 40  # a feed name in a list line; on a button
NO_PAGE = N_("That page is no longer there. Send %(command)s again for a fresh list.")
ENGLISH = gettext_for(DEFAULT_LANGUAGE)  # the default of helpers given no ``_``


@dataclass(frozen=True)
class Page(Generic[T]):
    """Page ``number`` (from 1) of ``pages``: its items and where they sit among ``total``."""

    items: Sequence[T]
    number: int
    pages: int
    total: int

    @property
    def span(self) -> str:
        """"21–30 of 312"."""
        return self.span_in(ENGLISH)

    def span_in(self, _: Gettext) -> str:
        """:attr:`span` in the language of ``_``."""
        first = (self.number - 1) * PAGE_SIZE + 1
        return _("%(first)d–%(last)d of %(total)d") % {
            "first": first, "last": first + len(self.items) - 1, "total": self.total}


def page_of(items: Sequence[T], number: int | None, *, clamp: bool = False) -> Page[T] | None:
    """Page ``number`` of ``items`` (with ``clamp``, the last page when past the end); None
    for a page that does not exist. An empty list has one empty page."""
    pages = max(1, -(-len(items) // PAGE_SIZE))
    if number is not None and clamp:
        number = min(number, pages)
    if number is None or not 1 <= number <= pages:
        return None
    start = (number - 1) * PAGE_SIZE
    return Page(items[start:start + PAGE_SIZE], number, pages, len(items))


def paged(keyboard: list[list[InlineKeyboardButton]], prefix: str, page: Page[Any],
          suffix: str = "", _: Gettext = ENGLISH) -> InlineKeyboardMarkup | None:
    """The rows, then ◀ Previous / Next ▶ as ``<prefix>:p:<page><suffix>``; None if empty."""
    nav = [Button(label, f"{prefix}:p:{number}{suffix}") for label, number, shown in (
        (_("◀ Previous"), page.number - 1, page.number > 1),
        (_("Next ▶"), page.number + 1, page.number < page.pages)) if shown]
    keyboard = [*keyboard, nav] if nav else keyboard
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def listed(name: str, limit: int = NAME_CHARS) -> str:
    """An untrusted name on a list line (HTML): one line, clipped, escaped, isolated."""
    return esc(isolate(clipped(name, limit)))


async def show_page(update: Update, shown: tuple[str, InlineKeyboardMarkup | None] | None,
                    command: str, note: str | None = None, _: Gettext = ENGLISH) -> None:
    """Answer the press (with ``note``) and edit its message to ``shown``: a page of a list.
    None, a page that is not there (forged, or the list shrank), is answered instead."""
    if shown is None:
        await answer(update, _(NO_PAGE) % {"command": f"/{command}"}, alert=True)
        return
    await answer(update, note)
    await edit(update, *shown)
