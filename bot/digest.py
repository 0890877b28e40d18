"""Digests: choose articles, render them as plain text or Telegram HTML, split at limits.

One renderer, two formats: the terminal and Telegram see the same items in the same order
with the same wording; only markup and escaping differ.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.store import StoredArticle

TELEGRAM_LIMIT = 4096
MAX_LEAD_CHARS = 320
FSI, PDI = "\u2068", "\u2069"   # first-strong isolate: Arabic names inside English lines


class Markup(Protocol):
    """How a format escapes text and marks up headlines and links."""

    def text(self, raw: str) -> str: ...
    def bold(self, raw: str) -> str: ...
    def link(self, label: str, url: str) -> str: ...
    def italic(self, raw: str) -> str: ...


class PlainText:
    """Terminal output: no markup, links on their own line."""

    def text(self, raw: str) -> str:
        return raw

    def bold(self, raw: str) -> str:
        return raw

    def italic(self, raw: str) -> str:
        return raw

    def link(self, label: str, url: str) -> str:
        return f"{label}\n   {url}"


class TelegramHTML:
    """Telegram's HTML parse mode: everything escaped, only b/i/a tags."""

    def text(self, raw: str) -> str:
        return html.escape(raw, quote=False)

    def bold(self, raw: str) -> str:
        return f"<b>{self.text(raw)}</b>"

    def italic(self, raw: str) -> str:
        return f"<i>{self.text(raw)}</i>"

    def link(self, label: str, url: str) -> str:
        return f'<a href="{html.escape(url, quote=True)}"><b>{self.text(label)}</b></a>'


def relative_time(moment: datetime, now: datetime) -> str:
    """'just now', '12 min ago', '3 h ago', 'yesterday', '4 days ago', else the date."""
    age = now - moment
    if age < timedelta(minutes=1):
        return "just now"
    if age < timedelta(hours=1):
        return f"{int(age.total_seconds() // 60)} min ago"
    if age < timedelta(days=1):
        return f"{int(age.total_seconds() // 3600)} h ago"
    if age < timedelta(days=2):
        return "yesterday"
    if age < timedelta(days=7):
        return f"{age.days} days ago"
    return moment.strftime("%d %b %Y")


def isolate(name: str) -> str:
    """Wrap a source name so right-to-left text does not reorder the line around it."""
    return f"{FSI}{name}{PDI}"


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and add an ellipsis when longer than ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def render_item(article: StoredArticle, markup: Markup, now: datetime, number: int) -> str:
    """One digest entry: linked headline, lead, then source and age."""
    if article.language != "ar" or not article.title_translated:
        headline = article.title_original
        note = " " + markup.italic("(original language)")
    else:
        headline = article.title_translated
        note = " " + markup.italic("(partly untranslated)") if article.untranslated else ""
    lines = [f"{number}. " + markup.link(headline, article.url) + note]
    lead = shorten(article.lead or article.text_translated, MAX_LEAD_CHARS)
    if lead:
        lines.append(markup.text(lead))
    source = isolate(article.feed_name)
    lines.append(markup.italic(f"{source} · {relative_time(article.published, now)}"))
    return "\n".join(lines)


def render_header(markup: Markup, now: datetime, timezone: str, count: int) -> str:
    local = now.astimezone(ZoneInfo(timezone))
    stamp = local.strftime("%a %d %b %Y, %H:%M")
    noun = "story" if count == 1 else "stories"
    return markup.bold(f"Nashra digest — {stamp} ({timezone})") + "\n" + markup.text(
        f"{count} {noun} translated from Arabic")


def render_digest(articles: Sequence[StoredArticle], markup: Markup, *, now: datetime,
                  timezone: str = "UTC", limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The digest as messages, split between items so none exceeds ``limit`` units."""
    blocks = [render_header(markup, now, timezone, len(articles))]
    blocks += [render_item(a, markup, now, n) for n, a in enumerate(articles, start=1)]
    return pack_blocks(blocks, limit, markup)


def visible_length(block: str, markup: Markup) -> int:
    """Length as Telegram counts it: UTF-16 code units of the text after entity parsing."""
    if isinstance(markup, TelegramHTML):
        block = html.unescape(_strip_tags(block))
    return len(block.encode("utf-16-le")) // 2


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">" and inside:
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


def pack_blocks(blocks: Sequence[str], limit: int, markup: Markup) -> list[str]:
    """Join blocks with blank lines into as few messages as fit; never cut inside a block.

    A single block over the limit (a pathological lead) is shortened, never split, so no tag
    is ever cut.
    """
    messages: list[str] = []
    current, size = "", 0
    for block in blocks:
        length = visible_length(block, markup)
        if length > limit:
            block = _fit_block(block, limit, markup)
            length = visible_length(block, markup)
        joined = size + 2 + length if current else length
        if current and joined > limit:
            messages.append(current)
            current, size = block, length
        else:
            current = f"{current}\n\n{block}" if current else block
            size = joined
    if current:
        messages.append(current)
    return messages


def _fit_block(block: str, limit: int, markup: Markup) -> str:
    lines = block.split("\n")
    while len(lines) > 1 and visible_length("\n".join(lines), markup) > limit:
        lines.pop(1)   # drop the lead line(s) first; the headline and source stay
    text = "\n".join(lines)
    if visible_length(text, markup) > limit:
        text = markup.text(shorten(html.unescape(_strip_tags(text)), limit // 2))
    return text
