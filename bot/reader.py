"""One article in full: the English translation or the original, as messages.

Pure functions over a stored article, for both formats of bot.digest (PlainText for the
terminal, TelegramHTML for the bot). Messages are split between paragraphs so that each fits
Telegram's limit; only a paragraph too long on its own is split, between sentences. Raw text
is split before it is escaped and marked up, so no cut ever falls inside a tag or an entity.
The labels around the article are in the reader's interface ``language`` (English for the
terminal); the original's language is named from the article's own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest import (
    TELEGRAM_LIMIT,
    Markup,
    isolate,
    local_date,
    pack_blocks,
    relative_time,
    visible_length,
)
from bot.i18n import DEFAULT_LANGUAGE, N_, Gettext, gettext_for
from bot.languages import UNDETERMINED, has_translation, language_name
from bot.store import StoredArticle
from bot.textnorm import arabic_ratio, split_paragraphs, split_sentences

# Ids come from SQLite's rowid; anything larger is a typo or a probe, refused unqueried.
MAX_ARTICLE_ID = 2**31 - 1
NOT_TRANSLATED = N_("[not translated]")
ORIGINAL_LANGUAGE_NOTE = N_("Not translated: shown in its original language.")
# %(language)s: the article's language, e.g. "Arabic".
PARTLY_TRANSLATED_NOTE = N_("Sentences the model could not translate are shown in "
                            "%(language)s.")
NO_TEXT = N_("The source gave no text beyond the headline.")
ORIGINAL_LABEL = N_("%(language)s original")
RLM = "\u200f"  # a strong right-to-left character: Arabic lines stay right-aligned
_RECENT = timedelta(days=7)


def valid_article_id(article_id: int) -> bool:
    """Whether ``article_id`` is worth a query (ids start at 1)."""
    return 1 <= article_id <= MAX_ARTICLE_ID


def is_translated(article: StoredArticle) -> bool:
    """Whether an English translation exists to show (else the original is shown)."""
    return has_translation(article)


def is_untranslated_sentence(sentence: str) -> bool:
    """A sentence of ``text_translated`` the model left in Arabic (mostly Arabic letters)."""
    return arabic_ratio(sentence) > 0.5


def render_article(article: StoredArticle, markup: Markup, now: datetime, *,
                   timezone: str = "UTC", limit: int = TELEGRAM_LIMIT,
                   language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The article in English (title, source, date, link, then every paragraph) as messages
    of at most ``limit`` UTF-16 units each; the date is shown in ``timezone``, the labels in
    the interface ``language``."""
    _ = gettext_for(language)
    when = _when(article.published, now, timezone, language)
    if not is_translated(article):
        header = _header(article, article.title_original, markup, when,
                         _(ORIGINAL_LANGUAGE_NOTE))
        return _pack(header, article.text_original, lambda raw: _plain(raw, markup), markup,
                     limit, _)
    title = article.title_translated or article.title_original
    paragraphs = split_paragraphs(article.text_translated)
    partly = any(is_untranslated_sentence(s)
                 for s in [title, *(s for p in paragraphs for s in split_sentences(p))])
    note = _(PARTLY_TRANSLATED_NOTE) % {"language": language_name(article.language, _)}
    header = _header(article, title, markup, when, note if partly else None)
    if is_untranslated_sentence(title):
        header = _marked(markup, _) + header
    return _pack(header, article.text_translated,
                 lambda raw: _translated(raw, markup, _), markup, limit, _)


def render_original(article: StoredArticle, markup: Markup, *, timezone: str = "UTC",
                    limit: int = TELEGRAM_LIMIT, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The original title and text as messages, every line starting right-to-left, under a
    label naming the article's language in the interface ``language``."""
    _ = gettext_for(language)
    header = "\n".join([
        markup.italic(original_label(article.language, _)),
        RLM + markup.link(article.title_original, article.url),
        markup.italic(f"{isolate(article.feed_name)} · "
                      f"{_date(article.published, timezone, language)}"),
    ])
    return _pack(header, article.text_original, lambda raw: _rtl(raw, markup), markup, limit,
                 _)


def original_label(article_language: str, _: Gettext) -> str:
    """The label above an original: "Arabic original", "Persian original"…, or "Original"
    when its language is unknown."""
    if article_language in (UNDETERMINED, ""):
        return _("Original")
    return _(ORIGINAL_LABEL) % {"language": language_name(article_language, _)}


def _header(article: StoredArticle, title: str, markup: Markup, when: str,
            note: str | None) -> str:
    """Linked title, source and date, and a note on what is not in English."""
    lines = [markup.link(title, article.url),
             markup.italic(f"{isolate(article.feed_name)} · {when}")]
    if note:
        lines.append(markup.italic(note))
    return "\n".join(lines)


def _when(published: datetime, now: datetime, timezone: str, language: str) -> str:
    """The date, and how long ago while that is still a useful hint."""
    when = _date(published, timezone, language)
    if now - published < _RECENT:
        return f"{when} ({relative_time(published, now, language)})"
    return when


def _date(moment: datetime, timezone: str, language: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local_date(local, language)}, {local:%H:%M} {timezone}"


def _pack(header: str, text: str, render: Callable[[str], str], markup: Markup,
          limit: int, _: Gettext) -> list[str]:
    blocks = [header]
    for paragraph in split_paragraphs(text):
        blocks += _paragraph_blocks(paragraph, render, markup, limit)
    if len(blocks) == 1:
        blocks.append(markup.italic(_(NO_TEXT)))
    return pack_blocks(blocks, limit, markup)


def _paragraph_blocks(raw: str, render: Callable[[str], str], markup: Markup,
                      limit: int) -> list[str]:
    """The paragraph as one block, or, when too long, as runs of whole sentences.

    Consecutive runs never fit one message together (each run was closed because the next
    sentence did not fit), so pack_blocks never rejoins them with a paragraph break.
    """
    block = render(raw)
    if visible_length(block, markup) <= limit:
        return [block]
    pieces = [piece for sentence in split_sentences(raw)
              for piece in _fitting(sentence, render, markup, limit)]
    runs: list[str] = []
    for piece in pieces:
        joined = f"{runs[-1]} {piece}" if runs else piece
        if runs and visible_length(joined, markup) <= limit:
            runs[-1] = joined
        else:
            runs.append(piece)
    return runs


def _fitting(raw: str, render: Callable[[str], str], markup: Markup,
             limit: int) -> list[str]:
    """``raw`` rendered, halved at a space (else anywhere) until each half fits."""
    block = render(raw)
    if len(raw) < 2 or visible_length(block, markup) <= limit:
        return [block]
    middle = len(raw) // 2
    space = raw.rfind(" ", 1, middle + 1)
    if space < 1:
        space = raw.find(" ", middle)
    cut = space if space > 0 else middle  # raw is stripped: both halves are non-empty
    return (_fitting(raw[:cut].rstrip(), render, markup, limit)
            + _fitting(raw[cut:].lstrip(), render, markup, limit))


def _marked(markup: Markup, _: Gettext) -> str:
    return markup.italic(_(NOT_TRANSLATED)) + " "


def _translated(raw: str, markup: Markup, _: Gettext) -> str:
    """A translated paragraph; sentences left in Arabic get a marker and are isolated."""
    sentences = split_sentences(raw)
    if not any(is_untranslated_sentence(s) for s in sentences):
        return markup.text(raw)
    return " ".join(_marked(markup, _) + markup.text(isolate(s)) if is_untranslated_sentence(s)
                    else markup.text(s) for s in sentences)


def _plain(raw: str, markup: Markup) -> str:
    return markup.text(raw)


def _rtl(raw: str, markup: Markup) -> str:
    """Arabic text whose lines start with RLM, so a line opening with a Latin name or a
    number is still laid out right to left."""
    return "\n".join(RLM + markup.text(line) for line in raw.split("\n"))
