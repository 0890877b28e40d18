"""Bytes -> text for feeds and article pages: one decoding policy for both.

Publishers get their charset wrong in both directions: UTF-8 labelled windows-1256 or
ISO-8859-1 (common: a CMS moved to UTF-8, its templates or server config did not), windows-1256
labelled UTF-8, and legacy Arabic pages with no label at all. :func:`decode` tries, in order:

1. a byte-order mark (unambiguous; a UTF-8 BOM before bytes that are not UTF-8 is ignored);
2. the declared charsets in the order given (HTTP header, then the XML declaration or
   ``<meta>``), except that valid UTF-8 with non-ASCII bytes is tried before the first declared
   *single-byte* charset: any byte sequence decodes in most single-byte code pages, so such a
   label can never be refuted, while Arabic in windows-1256 is practically never valid UTF-8;
3. strict UTF-8 (also covers pure ASCII);
4. windows-1256 vs ISO-8859-6, scored by how Arabic the result looks;
5. charset_normalizer's best guess;
6. windows-1252 with replacement characters, which never fails.

Labels are read as a browser reads them (WHATWG Encoding Standard): ISO-8859-1 and ASCII mean
windows-1252, ISO-8859-6-I means ISO-8859-6, GB2312 means GB18030, and labels of encodings no
browser supports (base64, UTF-7, DOS code pages...) are ignored.
"""

from __future__ import annotations

import codecs
import functools
import html
import re

from charset_normalizer import from_bytes

from bot.textnorm import arabic_ratio

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)

# Labels browsers accept that Python does not know (the rest go through codecs.lookup).
_EXTRA_LABELS = {
    "unicode-1-1-utf-8": "utf-8", "unicode11utf8": "utf-8", "unicode20utf8": "utf-8",
    "x-unicode20utf8": "utf-8", "csiso88596e": "iso8859-6", "csiso88596i": "iso8859-6",
    "csiso88598i": "iso8859-8", "logical": "iso8859-8", "visual": "iso8859-8",
    "windows-874": "cp874", "dos-874": "cp874", "x-gbk": "gbk", "windows-31j": "cp932",
    "x-sjis": "cp932", "x-x-big5": "big5", "cn-big5": "big5", "windows-949": "cp949",
    "x-mac-roman": "mac-roman", "mac": "mac-roman", "csmacintosh": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic", "x-mac-ukrainian": "mac-cyrillic",
    "unicode": "utf-16-le", "csunicode": "utf-16-le", "ucs-2": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-le", "unicodefeff": "utf-16-le", "unicodefffe": "utf-16-be",
}
# "x-cp1256" is windows-1256; ISO-8859-6-I/-E and 8859-8-I name a text direction, not other
# bytes; "iso88596" is a compact spelling. All become a name codecs.lookup knows.
_LABEL_FORMS = ((re.compile(r"x-(cp125\d)"), r"\1"),
                (re.compile(r"iso[-_ ]?8859[-_ ]?(\d{1,2})(?:[-_:](?:[ie]|\d{4}))?"),
                 r"iso8859-\1"))
# Where a browser decodes a charset with a superset of it (windows-1252 for ISO-8859-1 and
# ASCII, GB18030 for GBK...), Python's name for that superset.
_WHATWG_DECODER = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874",
    "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949",
    "shift_jis": "cp932", "big5": "big5hkscs", "utf-16": "utf-16-le", "utf-8-sig": "utf-8",
}
# The encodings of the WHATWG Encoding Standard, by Python name. Other codecs Python has are
# refused: transforms such as base64 or unicode_escape, and code pages no browser reads.
_WHATWG_CODECS = frozenset({
    "utf-8", "utf-16-le", "utf-16-be", "cp866", "koi8-r", "koi8-u", "mac-roman",
    "mac-cyrillic", "cp874", "gb18030", "big5hkscs", "euc_jp", "iso2022_jp", "cp932", "cp949",
    *(f"cp{n}" for n in range(1250, 1259)),
    *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
})

_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_ARABIC_CODEPAGES = ("cp1256", "iso8859-6")
_ARABIC = re.compile("[\u0621-\u064a\u0660-\u0669\u0671-\u06d3]")
# Characters a wrong single-byte decoding of Arabic produces: Latin-1 letters, French
# letters cp1256 keeps at 0xE0-0xFC, symbols such as x and not-sign, C1 controls.
# Guillemets and the degree sign are left out: genuine Arabic text uses them.
_ODD = re.compile("[\u0080-\u009f\u00a1-\u00aa\u00ac-\u00af\u00b1-\u00ba\u00bc-\u00ff"
                  "\u0152\u0153\u0192\u02c6\u2020\u2021\u2030]")
_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
# Below this share of Arabic letters in the readable text a document is not Arabic, and the
# single-byte Arabic code pages are no better guesses than any other.
_MIN_ARABIC_RATIO = 0.3


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` value, as written."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def codec_name(label: str) -> str | None:
    """The Python codec a browser would decode with for charset ``label``, or None when
    browsers do not know the label."""
    label = label.strip().lower()
    for pattern, replacement in _LABEL_FORMS:
        match = pattern.fullmatch(label)
        label = match.expand(replacement) if match else label
    try:
        name = codecs.lookup(_EXTRA_LABELS.get(label, label)).name
    except LookupError:
        return None
    name = _WHATWG_DECODER.get(name, name)
    return name if name in _WHATWG_CODECS else None


def decode(body: bytes, *declared: str | None) -> str:
    """``body`` as text, by the policy in the module docstring.

    ``declared`` are charset labels in order of authority (the HTTP header's first); None and
    unknown labels are skipped, and a declared charset the bytes do not decode in is ignored.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, "replace")
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8):]
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # an editor's BOM in front of a legacy template: the bytes decide
    for codec in _candidates(body, declared):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    text = _arabic_guess(body)
    if text is None:
        text = _normalizer_guess(body)
    return text if text is not None else body.decode("cp1252", "replace")


def _candidates(body: bytes, declared: tuple[str | None, ...]) -> list[str]:
    """Codecs to try strictly, in order: the declared ones with UTF-8 slotted in."""
    order: list[str] = []
    for label in declared:
        codec = codec_name(label) if label else None
        if codec is None:
            continue
        if codec.startswith("utf-16") and b"\x00" not in body[:1024]:
            codec = "utf-8"  # bytes whose label could be read as ASCII are not UTF-16
        if _is_single_byte(codec) and not body.isascii() and "utf-8" not in order:
            order.append("utf-8")
        order.append(codec)
    order.append("utf-8")
    return list(dict.fromkeys(order))


@functools.cache
def _is_single_byte(codec: str) -> bool:
    # In a multi-byte codec some high bytes combine, giving fewer than 128 characters. UTF-8
    # and the 7-bit ISO-2022-JP pass too, harmlessly: UTF-8 is the codec slotted in anyway,
    # and no non-ASCII byte is valid ISO-2022-JP.
    return len(bytes(range(0x80, 0x100)).decode(codec, "replace")) == 128


def _arabic_guess(body: bytes) -> str | None:
    """The better of windows-1256 and ISO-8859-6 when the result reads as Arabic text."""
    scored = []
    for codec in _ARABIC_CODEPAGES:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        scored.append((_arabic_score(text), codec, text))
    if not scored:
        return None
    score, _, text = max(scored)
    if score > 0 and arabic_ratio(_readable(text)) >= _MIN_ARABIC_RATIO:
        return text
    return None


def _arabic_score(text: str) -> float:
    """Arabic letters minus a heavy penalty for characters a wrong decoding produces."""
    return len(_ARABIC.findall(text)) - 4.0 * len(_ODD.findall(text))


def _readable(text: str) -> str:
    # Tags, escaped HTML inside feed items and URLs are Latin letters in any language.
    text = _MARKUP.sub(" ", text)
    return _URL.sub(" ", _MARKUP.sub(" ", html.unescape(text)))


def _normalizer_guess(body: bytes) -> str | None:
    best = from_bytes(body).best()
    return str(best) if best is not None else None
