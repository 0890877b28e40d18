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

from bot.i18n import DEFAULT_LANGUAGE, N_, Gettext, Ngettext, translation
from bot.languages import (
    ENGLISH,
    UNDETERMINED,
    has_translation,
    language_name,
    not_translated_marker,
    untranslated_language,
)
from bot.selection import Story
from bot.store import StoredArticle

TELEGRAM_LIMIT = 4096
MAX_LEAD_CHARS = 320
_TAG = re.compile("<[^>]*>?")  # our markup escapes every < of the text: one starts a tag
FSI, PDI = "\u2068", "\u2069"   # first-strong isolate: Arabic names inside English lines
# Dates name months and weekdays in the chat's language; digits stay Western in every language
# (Telegram's Arabic users read them everywhere, and times and counts stay searchable).
MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
          N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


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


def relative_time(moment: datetime, now: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """'just now', '12 min ago', '3 h ago', 'yesterday', '4 days ago', else the date."""
    texts = translation(language)
    age = now - moment
    if age < timedelta(minutes=1):
        return texts.gettext("just now")
    if age < timedelta(hours=1):
        minutes = int(age.total_seconds() // 60)
        return texts.ngettext("%(count)d min ago", "%(count)d min ago", minutes) % {
            "count": minutes}
    if age < timedelta(days=1):
        hours = int(age.total_seconds() // 3600)
        return texts.ngettext("%(count)d h ago", "%(count)d h ago", hours) % {"count": hours}
    if age < timedelta(days=2):
        return texts.gettext("yesterday")
    if age < timedelta(days=7):
        return texts.ngettext("%(count)d day ago", "%(count)d days ago", age.days) % {
            "count": age.days}
    return local_date(moment, language)


def local_date(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """'20 Nov 2026', the month named in ``language``."""
    month = translation(language).gettext(MONTHS[moment.month - 1])
    return f"{moment:%d} {month} {moment:%Y}"


def local_stamp(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """'Fri 20 Nov 2026, 08:00', weekday and month named in ``language``."""
    _ = translation(language).gettext
    return _("%(weekday)s %(date)s, %(time)s") % {
        "weekday": _(WEEKDAYS[moment.weekday()]), "date": local_date(moment, language),
        "time": f"{moment:%H:%M}"}


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


def render_item(story: Story, markup: Markup, now: datetime, number: int | None,
                language: str = DEFAULT_LANGUAGE) -> str:
    """One digest entry: linked headline, lead, source and age with the command that opens
    the whole translation, then "Also:" with every other outlet carrying the story."""
    _ = translation(language).gettext
    article = story.main
    headline, note = _headline(article, markup, language)
    prefix = f"{number}. " if number is not None else ""
    lines = [prefix + markup.link(headline, article.url) + note]
    lead = shorten(article.lead or article.text_translated, MAX_LEAD_CHARS)
    if lead:
        lines.append(markup.text(lead))
    source = isolate(article.feed_name)
    age = relative_time(article.published, now, language)
    lines.append(markup.italic(f"{source} · {age}")
                 + markup.text(" · ") + markup.read_command(article.id))
    others = story.others
    if others:
        refs = [markup.ref(isolate(other.feed_name), other.url) for other in others]
        lines.append(markup.text(_("Also:") + " ") + markup.text(" · ").join(refs))
    return "\n".join(lines)


def _headline(article: StoredArticle, markup: Markup,
              language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """The headline and a note after the link (original language, partly untranslated)."""
    _ = translation(language).gettext
    if not has_translation(article) or not article.title_translated:
        missing = untranslated_language(article)
        note = not_translated_marker(missing, _) if missing else _("(original language)")
        return article.title_original, " " + markup.italic(note)
    note = " " + markup.italic(_("(partly untranslated)")) if article.untranslated else ""
    return article.title_translated, note


def render_header(markup: Markup, now: datetime, timezone: str, count: int,
                  total: int | None = None, *, more_page: bool = False,
                  language: str = DEFAULT_LANGUAGE, sources: Sequence[str] = ()) -> str:
    """The title and the count line; ``sources``: the languages the stories were written in
    (most first), named when they are not just Arabic."""
    texts = translation(language)
    _, ngettext = texts.gettext, texts.ngettext
    total = count if total is None else total
    if [code for code in sources if code != "ar"]:
        counted = _counted_from(ngettext, count, total)
    elif total > count:
        counted = ngettext(
            "%(count)d of %(total)d story translated from Arabic, most widely reported first",
            "%(count)d of %(total)d stories translated from Arabic, most widely reported first",
            total)
    else:
        counted = ngettext(
            "%(count)d story translated from Arabic, most widely reported first",
            "%(count)d stories translated from Arabic, most widely reported first", count)
    title = (_("Nashra digest, continued — %(time)s (%(timezone)s)") if more_page
             else _("Nashra digest — %(time)s (%(timezone)s)"))
    stamp = local_stamp(now.astimezone(ZoneInfo(timezone)), language)
    return markup.bold(title % {"time": stamp, "timezone": timezone}) + "\n" + markup.text(
        counted % {"count": count, "total": total, "languages": _named(sources, _)})


def _named(languages: Sequence[str], _: Gettext) -> str:
    """The languages by name: Persian; Arabic and Persian; Arabic, Persian and Turkish."""
    names = [language_name(code, _) for code in languages]
    if len(names) < 2:
        return "".join(names)
    return _("%(names)s and %(last)s") % {"names": _(", ").join(names[:-1]), "last": names[-1]}


def _counted_from(ngettext: Ngettext, count: int, total: int) -> str:
    """The count line's template naming the source languages ("translated from Persian")."""
    if total > count:
        return ngettext(
            "%(count)d of %(total)d story translated from %(languages)s, most widely reported "
            "first",
            "%(count)d of %(total)d stories translated from %(languages)s, most widely "
            "reported first", total)
    return ngettext(
        "%(count)d story translated from %(languages)s, most widely reported first",
        "%(count)d stories translated from %(languages)s, most widely reported first", count)


def source_languages(stories: Sequence[Story]) -> list[str]:
    """The languages the stories' articles were written in, the most frequent first
    (unknown and English ones left out)."""
    codes = [story.main.language for story in stories]
    counted = {code: codes.count(code) for code in codes if code not in (UNDETERMINED, "",
                                                                         ENGLISH)}
    return sorted(counted, key=lambda code: -counted[code])


def render_alert(story: Story, word: str, markup: Markup, *, now: datetime,
                 limit: int = TELEGRAM_LIMIT, language: str = DEFAULT_LANGUAGE) -> str:
    """One story sent right away because it matches one of the chat's alert words."""
    _ = translation(language).gettext
    header = markup.bold(_("🔔 Alert:") + " ") + markup.text(
        _("“%(word)s”") % {"word": word})
    item = render_item(story, markup, now, None, language)
    return pack_blocks([header, item], limit, markup)[0]


def more_line(more: int, language: str = DEFAULT_LANGUAGE) -> str:
    """The closing line of a digest that did not hold every qualifying story."""
    return translation(language).ngettext(
        "…and %(count)d more story.", "…and %(count)d more stories.", more) % {"count": more}


def render_digest(stories: Sequence[Story], markup: Markup, *, now: datetime,
                  timezone: str = "UTC", more: int = 0, more_page: bool = False,
                  limit: int = TELEGRAM_LIMIT, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The digest as messages in ``language``, split between items so none exceeds ``limit``
    units.

    ``more`` qualifying stories that did not fit the item count are announced at the end.
    """
    blocks = [render_header(markup, now, timezone, len(stories), len(stories) + more,
                            more_page=more_page, language=language,
                            sources=source_languages(stories))]
    blocks += [render_item(s, markup, now, n, language) for n, s in enumerate(stories, start=1)]
    if more:
        blocks.append(markup.italic(more_line(more, language)))
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
