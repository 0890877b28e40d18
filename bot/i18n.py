"""The bot's interface languages: gettext catalogs under ``bot/locale``.

Handlers pick a chat's language with :func:`language_for` and translate with
``_ = translation(language).gettext`` (``ngettext`` for counts), so that Babel finds every
string by its ``_``/``gettext``/``ngettext``/``N_`` calls. English is the source language.

Right-to-left languages get their templates made bidi-safe as they are looked up (see
:func:`bidi_template`): every ``%(name)s`` outside an HTML tag is wrapped in FIRST STRONG
ISOLATE … POP DIRECTIONAL ISOLATE, and literal ``/commands`` and ``@names`` in LEFT-TO-RIGHT
ISOLATE … PDI. A Latin feed name, a number or a link then keeps its own direction inside an
Arabic sentence and no longer decides the direction of the line. The catalogs stay plain.

The compiled ``.mo`` files are committed beside their ``.po`` sources, so a clone and the wheel
need no Babel at run time; ``python -m bot.i18n_tools update`` extracts, updates, compiles.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "nashra"
LANGUAGES = ("en", "ar")
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})
# What each language is called in its own language (the /language buttons).
NATIVE_NAMES = {"en": "English", "ar": "العربية"}

FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"
ISOLATES = frozenset("\u2066\u2067\u2068\u2069")
# printf-style conversions gettext templates use here; "%%" is a literal percent sign.
_CONVERSION = re.compile(r"%%|%(?:\(\w+\))?[sdif]")
# A literal command or channel with its Latin arguments: "/settings times 07:30",
# "/subscribe @channel", "/read_ID", "/filter +word". An argument ends at a space, so a
# word in Arabic script after it stays outside the isolate.
_LITERAL = re.compile(
    r"(?<![\w/@.])[/@][A-Za-z][A-Za-z0-9_@]*"
    r"(?:[ ](?:%\(\w+\)[sd]|[A-Za-z0-9+\-_:./@…]*[A-Za-z0-9+\-_:/@…])(?=[\s,;)،؛]|$|\.))*")
_TAG = re.compile(r"(<[^>]*>)")

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def language_for(chat_language: str | None, user_language_code: str | None = None) -> str:
    """The chat's own choice, else the Telegram user's language when we have it, else English
    (``ar``, ``ar-EG``… give Arabic; anything else, English)."""
    for candidate in (chat_language, (user_language_code or "").split("-")[0].lower()):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


class _RightToLeft(gettext.GNUTranslations):
    """A catalog whose templates come out bidi-safe (see :func:`bidi_template`)."""

    def gettext(self, message: str) -> str:
        return bidi_template(super().gettext(message))

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return bidi_template(super().ngettext(msgid1, msgid2, n))


class _MissingRightToLeft(gettext.NullTranslations):
    """No catalog compiled (yet): English text, still bidi-safe for a right-to-left chat."""

    def gettext(self, message: str) -> str:
        return bidi_template(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return bidi_template(msgid1 if n == 1 else msgid2)


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` (English, the source language, needs none)."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    if language not in RIGHT_TO_LEFT:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language],
                                   class_=_RightToLeft)
    except OSError:
        return _MissingRightToLeft()


def gettext_for(language: str) -> Gettext:
    """``_`` for a language code (e.g. a stored chat's: ``language_for(chat.language)``)."""
    return translation(language).gettext


def ngettext_for(language: str) -> Ngettext:
    """``ngettext`` for a language code: ``ngettext(singular, plural, n) % {"n": n}``."""
    return translation(language).ngettext


def is_right_to_left(language: str) -> bool:
    return language in RIGHT_TO_LEFT


def N_(message: str) -> str:  # the gettext convention Babel extracts
    """Marks a string for the catalogs where it is defined; translated where it is shown."""
    return message


def isolate(text: str, *, ltr: bool = False) -> str:
    """``text`` as a bidi isolate: FSI (direction from its first strong letter) or, with
    ``ltr``, LRI; for values joined into a right-to-left line without a template. Safe in
    HTML (text only, no tags are touched), empty text stays empty."""
    if not text:
        return text
    return f"{LRI if ltr else FSI}{text}{PDI}"


def isolate_for(language: str) -> Callable[[str], str]:
    """:func:`isolate` in a right-to-left language, else the text unchanged."""
    return isolate if is_right_to_left(language) else _unchanged


def _unchanged(text: str) -> str:
    return text


@functools.lru_cache(maxsize=4096)
def bidi_template(template: str) -> str:
    """A right-to-left template with its embedded left-to-right parts isolated.

    Only the text between HTML tags changes (tags and their attributes, such as an ``href``
    with a placeholder, stay intact). A template already holding isolates was prepared by
    its translator and keeps them; its placeholders are still wrapped unless already so.
    """
    parts = _TAG.split(template)
    for index in range(0, len(parts), 2):  # even: text between tags
        parts[index] = _isolate_text(parts[index])
    return "".join(parts)


def _isolate_text(text: str) -> str:
    if not ISOLATES.intersection(text):
        text = _LITERAL.sub(lambda m: _wrap_literal(m[0]), text)
    return _wrap_conversions(text)


def _wrap_literal(run: str) -> str:
    """LRI…PDI around a command run; placeholders inside are wrapped later, as elsewhere."""
    return f"{LRI}{run}{PDI}"


def _wrap_conversions(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _CONVERSION.finditer(text):
        out.append(text[last:match.start()])
        last = match.end()
        token = match[0]
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if token == "%%" or (before == FSI and after == PDI):
            out.append(token)
        else:
            out.append(f"{FSI}{token}{PDI}")
    out.append(text[last:])
    return "".join(out)
