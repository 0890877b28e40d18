"""Extract stage: an article page's bytes -> clean plain text.

Three steps: decode the bytes (:mod:`bot.charset`: declared charset, else a detection tuned
for Arabic legacy encodings), let trafilatura find the main text, then drop the site furniture
that survives extraction (share bars, end-of-wire markers, copyright lines, related-article
lists...) with the rules of :mod:`bot.boilerplate`, which the parse stage applies to feed
text as well.
"""

from __future__ import annotations

import re

import trafilatura

from bot import charset
from bot.boilerplate import strip_boilerplate
from bot.errors import ExtractError
from bot.safetext import clean_text

# --- decoding ---------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML page to text by the policy of :mod:`bot.charset`: a byte-order mark,
    valid UTF-8 over a declared single-byte charset, the charset of the ``Content-Type``
    header, then ``<meta charset>`` / ``http-equiv``, then detection tuned for Arabic legacy
    encodings. A declared charset that fails to decode is ignored.
    """
    return charset.decode(body, charset.header_charset(content_type), _meta_charset(body))


def _meta_charset(body: bytes) -> str | None:
    # Browsers look for <meta charset> in the first 1024 bytes; CMS pages put long <script>
    # and <style> blocks first, so a wider window finds it where it really is.
    match = _META_CHARSET.search(body[:8192])
    return match.group(1).decode("ascii", "ignore") if match else None


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
