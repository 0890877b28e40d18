"""Digests rendered as plain text or Telegram HTML, split at Telegram's limits.

One renderer, two formats: the terminal and Telegram see the same items in the same order
with the same wording; only markup and escaping differ. An item is a story (see
:mod:`bot.selection`): one outlet's headline and lead, then the other outlets carrying it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.selection import Story
from bot.store import StoredArticle

TELEGRAM_LIMIT = 4096
MAX_LEAD_CHARS = 320
_TAG = re.compile("<[^>]*>?")  # our markup escapes every < of the text: one starts a tag
FSI, PDI = "\u2068", "\u2069"   # first-strong isolate: Arabic names inside English lines


class Markup(Protocol):
    """How a format escapes text and marks up headlines and links."""

    def text(self, raw: str) -> str: ...
    def bold(self, raw: str) -> str: ...
    def link(self, label: str, url: str) -> str: ...
    def italic(self, raw: str) -> str: ...
    def ref(self, label: str, url: str) -> str: ...
    def read_command(self, article_id: int) -> str: ...


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

    def ref(self, label: str, url: str) -> str:
        return f"{label} <{url}>"

    def read_command(self, article_id: int) -> str:
        return f"nashra read {article_id}"


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

    def ref(self, label: str, url: str) -> str:
        return f'<a href="{html.escape(url, quote=True)}">{self.text(label)}</a>'

    def read_command(self, article_id: int) -> str:
        # Telegram makes /read_123 a tappable command (a space would end the command).
        return f"/read_{article_id}"


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


def render_item(story: Story, markup: Markup, now: datetime, number: int | None) -> str:
    """One digest entry: linked headline, lead, source and age with the command that opens
    the whole translation, then "Also:" with every other outlet carrying the story."""
    article = story.main
    headline, note = _headline(article, markup)
    prefix = f"{number}. " if number is not None else ""
    lines = [prefix + markup.link(headline, article.url) + note]
    lead = shorten(article.lead or article.text_translated, MAX_LEAD_CHARS)
    if lead:
        lines.append(markup.text(lead))
    source = isolate(article.feed_name)
    lines.append(markup.italic(f"{source} · {relative_time(article.published, now)}")
                 + markup.text(" · ") + markup.read_command(article.id))
    others = story.others
    if others:
        refs = [markup.ref(isolate(other.feed_name), other.url) for other in others]
        lines.append(markup.text("Also: ") + markup.text(" · ").join(refs))
    return "\n".join(lines)


def _headline(article: StoredArticle, markup: Markup) -> tuple[str, str]:
    """The headline and a note after the link (original language, partly untranslated)."""
    if article.language != "ar" or not article.title_translated:
        return article.title_original, " " + markup.italic("(original language)")
    note = " " + markup.italic("(partly untranslated)") if article.untranslated else ""
    return article.title_translated, note


def render_header(markup: Markup, now: datetime, timezone: str, count: int,
                  total: int | None = None, *, more_page: bool = False) -> str:
    local = now.astimezone(ZoneInfo(timezone))
    stamp = local.strftime("%a %d %b %Y, %H:%M")
    total = count if total is None else total
    noun = "story" if total == 1 else "stories"
    counted = f"{count} of {total} {noun}" if total > count else f"{count} {noun}"
    title = "Nashra digest, continued" if more_page else "Nashra digest"
    return markup.bold(f"{title} — {stamp} ({timezone})") + "\n" + markup.text(
        f"{counted} translated from Arabic, most widely reported first")


def render_alert(story: Story, word: str, markup: Markup, *, now: datetime,
                 limit: int = TELEGRAM_LIMIT) -> str:
    """One story sent right away because it matches one of the chat's alert words."""
    header = markup.bold("🔔 Alert: ") + markup.text(f"“{word}”")
    return pack_blocks([header, render_item(story, markup, now, None)], limit, markup)[0]


def more_line(more: int) -> str:
    """The closing line of a digest that did not hold every qualifying story."""
    return f"…and {more} more {'story' if more == 1 else 'stories'}."


def render_digest(stories: Sequence[Story], markup: Markup, *, now: datetime,
                  timezone: str = "UTC", more: int = 0, more_page: bool = False,
                  limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The digest as messages, split between items so none exceeds ``limit`` units.

    ``more`` qualifying stories that did not fit the item count are announced at the end.
    """
    blocks = [render_header(markup, now, timezone, len(stories), len(stories) + more,
                            more_page=more_page)]
    blocks += [render_item(s, markup, now, n) for n, s in enumerate(stories, start=1)]
    if more:
        blocks.append(markup.italic(more_line(more)))
    return pack_blocks(blocks, limit, markup)


def visible_length(block: str, markup: Markup) -> int:
    """Length as Telegram counts it: UTF-16 code units of the text after entity parsing."""
    if isinstance(markup, TelegramHTML):
        block = html.unescape(_strip_tags(block))
    return len(block.encode("utf-16-le")) // 2


def _strip_tags(text: str) -> str:
    return _TAG.sub("", text)


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
