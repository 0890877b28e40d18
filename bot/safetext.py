"""Text from the internet made safe to store and show: no control or spoofing characters.

Feeds and pages may carry C0/C1 control characters (which break terminals, logs and Telegram)
and Unicode bidi controls: an unbalanced RIGHT-TO-LEFT OVERRIDE in a headline reorders the
rest of the digest line it is shown in. Arabic text needs none of them to display correctly.
Pure functions, shared by the parse and extract stages.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls.
_CONTROLS = "".join(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                              *range(0x7F, 0xA0))))
# Embeddings and overrides (LRE RLE PDF LRO RLO) and isolates (LRI RLI FSI PDI).
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Directional marks: harmless inside running text, a spoofing tool in one-line labels.
_MARKS = "\u200e\u200f"
# Invisible characters that only get in the way of search and dedupe.
_INVISIBLE = "\ufeff\u200b\u00ad"

_TEXT_DROP = dict.fromkeys(map(ord, _CONTROLS + _BIDI_CONTROLS + _INVISIBLE))
_LINE_DROP = dict.fromkeys(map(ord, _CONTROLS + _BIDI_CONTROLS + _MARKS + _INVISIBLE))
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")

MAX_TITLE_CHARS = 300


def clean_text(text: str) -> str:
    """Body text: line breaks normalised, controls and bidi overrides removed."""
    return _NEWLINES.sub("\n", text).translate(_TEXT_DROP)


def clean_line(text: str, limit: int | None = MAX_TITLE_CHARS) -> str:
    """A one-line label (headline, feed name): also no directional marks, whitespace
    collapsed, and at most ``limit`` characters, cut at a word boundary with "…"."""
    line = " ".join(_NEWLINES.sub(" ", text).translate(_LINE_DROP).split())
    return shorten(line, limit) if limit is not None else line


def shorten(line: str, limit: int) -> str:
    """``line`` if short enough, else its longest word-boundary prefix that fits, plus "…"."""
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]  # room for the ellipsis
    if not line[limit - 1].isspace():
        space = cut.rfind(" ")
        if space >= limit // 2:  # a boundary not too far back; else cut inside the word
            cut = cut[:space]
    return cut.rstrip(" ,.;:،؛-–—") + "…"
