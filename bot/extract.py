"""Extract stage: an article page's bytes -> clean plain text.

Three steps: decode the bytes (declared charset, else a detection tuned for Arabic legacy
encodings), let trafilatura find the main text, then drop the site furniture that survives
extraction (share bars, end-of-wire markers, copyright lines, related-article lists...) with
the rules of :mod:`bot.boilerplate`, which the parse stage applies to feed text as well.
"""

from __future__ import annotations

import codecs
import re

import trafilatura

from bot.boilerplate import strip_boilerplate
from bot.errors import ExtractError
from bot.safetext import clean_text
from bot.textnorm import arabic_ratio

# --- decoding ---------------------------------------------------------------------------------

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG treats these labels as windows-1252, a superset that never fails on real pages.
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1",
                            "us-ascii", "ascii", "cp819", "ibm819"})
_ARABIC_CANDIDATES = ("cp1256", "iso-8859-6")
_ARABIC = re.compile("[\u0621-\u064a\u0660-\u0669\u0671-\u06d3]")
# Characters a wrong single-byte decoding of Arabic produces: Latin-1 letters, French
# letters cp1256 keeps at 0xE0-0xFC, symbols such as x and not-sign, C1 controls.
# Guillemets and the degree sign are left out: genuine Arabic text uses them.
_ODD = re.compile("[\u0080-\u009f\u00a1-\u00aa\u00ac-\u00af\u00b1-\u00ba\u00bc-\u00ff"
                  "\u0152\u0153\u0192\u02c6\u2020\u2021\u2030]")
_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
# Below this share of Arabic letters in the visible text a page is not Arabic, and the
# single-byte Arabic code pages are no better guesses than any other.
_MIN_ARABIC_RATIO = 0.3


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML page to text.

    Order: a byte-order mark (it is unambiguous), the charset of the ``Content-Type`` header,
    ``<meta charset>`` / ``http-equiv``, then detection: strict UTF-8, then windows-1256 vs
    ISO-8859-6 scored by how Arabic the result looks, then charset_normalizer, then
    windows-1252 with replacement. A declared charset that fails to decode is ignored.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, "replace")
    for label in (_header_charset(content_type), _meta_charset(body)):
        text = _try_decode(body, label)
        if text is not None:
            return text
    return _detect(body)


def _header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:8192])
    return match.group(1).decode("ascii", "ignore") if match else None


def _codec_name(label: str) -> str | None:
    label = label.strip().lower()
    if label in _LATIN1_LABELS:
        return "cp1252"
    if label.startswith("utf-16"):
        return "utf-8"  # a page that could be read to find this label is not UTF-16
    label = re.sub(r"^(iso-8859-\d+)-[ie]$", r"\1", label)  # ISO-8859-6-I is plain 8859-6
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try_decode(body: bytes, label: str | None) -> str | None:
    codec = _codec_name(label) if label else None
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _detect(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    scored = []
    for codec in _ARABIC_CANDIDATES:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        scored.append((_arabic_score(text), codec, text))
    if scored:
        score, _, text = max(scored)
        if score > 0 and arabic_ratio(_MARKUP.sub(" ", text)) >= _MIN_ARABIC_RATIO:
            return text
    return _normalizer_guess(body)


def _arabic_score(text: str) -> float:
    """Arabic letters minus a heavy penalty for characters a wrong decoding produces."""
    arabic = len(_ARABIC.findall(text))
    odd = len(_ODD.findall(text))
    return arabic - 4.0 * odd


def _normalizer_guess(body: bytes) -> str:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # only a transitive dependency; fall back gracefully
        return body.decode("cp1252", "replace")
    best = from_bytes(body).best()
    if best is None:
        return body.decode("cp1252", "replace")
    return str(best)


# --- extraction -------------------------------------------------------------------------------

_MIN_LETTERS = 40
_LETTER = re.compile(r"[^\W\d_]")


def extract_text(body: bytes, url: str, content_type: str | None = None) -> str:
    """The article's main text, paragraphs separated by blank lines.

    Raises :class:`ExtractError` when the page yields no article text (empty page, an index
    page, or only boilerplate).
    """
    if not body.strip():
        raise ExtractError("empty page")
    html = decode_html(body, content_type)
    try:
        extracted = trafilatura.extract(
            html, url=url, favor_precision=True, include_comments=False,
            include_tables=False, include_images=False, output_format="txt",
        )
    except Exception as exc:  # trafilatura/lxml failures belong to this one page
        raise ExtractError(f"extraction failed: {type(exc).__name__}") from exc
    # trafilatura puts one paragraph per line; Nashra separates paragraphs by blank lines.
    lines = clean_text(extracted or "").splitlines()
    text = strip_boilerplate("\n\n".join(line for line in lines if line.strip()))
    if len(_LETTER.findall(text)) < _MIN_LETTERS:
        raise ExtractError("no article text found")
    return text
