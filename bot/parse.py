"""Parse stage: feed bytes + response headers -> :class:`~bot.models.ParsedFeed`.

feedparser does the format work (RSS 0.9x/1.0/2.0, Atom); this module decides what counts as a
broken document, gives each entry a stable identity, a canonical URL, plain text and a UTC date.
"""

from __future__ import annotations

import hashlib
import re
import xml.sax
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

from bot.boilerplate import is_related_header, strip_boilerplate
from bot.errors import ParseError
from bot.feedprep import keep_newest, to_utf8
from bot.models import Entry, ParsedFeed
from bot.safetext import clean_line, clean_text

# Query parameters that only say where a click came from; they never select content.
_TRACKING_PARAMS = frozenset({
    "traffic_source", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
    "twclid", "igshid", "mc_cid", "mc_eid", "ocid", "ref", "ref_src", "ref_url", "cmpid", "cmp",
    "_ga", "_gl", "mkt_tok", "s_cid", "smid", "xtor", "ito", "spm",
})
_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")

_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "tr", "section", "article", "header", "footer", "aside",
    "figure", "figcaption", "hr", "main", "nav", "address", "details", "summary", "form",
})
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "iframe", "object", "svg")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u00ad"))
# A tag or entity in a title that claims to be plain text.
_MARKUP = re.compile(r"<[A-Za-z/!][^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
# Characters of the text used as a headline when an item has no title.
_UNTITLED_CHARS = 120

# Anything before the root element that a document may legally (or commonly) start with.
_PROLOG = re.compile(rb"\A(?:\s+|<\?.*?\?>|<!--.*?-->|<!(?!DOCTYPE)[^>]*>)*", re.S)
_ROOT = re.compile(rb"<(!DOCTYPE\s+)?([A-Za-z][\w:.-]*)", re.I)
# Unix times in seconds or milliseconds between 2001 and 2100: a GUID made of one is the
# moment something was written, not the identity of the story.
_EPOCH = re.compile(r"^(1\d{9}|[234]\d{9}|1\d{12}|[234]\d{12})$")


# Items parsed when the caller sets no limit (e.g. a preview of a new feed).
DEFAULT_MAX_ITEMS = 500
# How many more items than asked for are parsed: repeated items collapse after parsing.
_ITEM_SLACK = 2
# Dates before this are placeholders (0 = 1970-01-01), not publication dates.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)


def parse_feed(body: bytes, headers: Mapping[str, str], url: str, fetched_at: datetime,
               max_entries: int | None = None) -> ParsedFeed:
    """Parse an RSS or Atom document into entries, newest first.

    ``headers`` are the HTTP response headers (their charset is honoured unless the bytes
    prove it wrong); ``url`` is the final URL the document came from and resolves relative
    links. Only the newest ``max_entries`` items are returned (``DEFAULT_MAX_ITEMS`` when
    None). Raises :class:`ParseError` for HTML pages, empty or malformed documents.
    Entity declarations are never expanded and nothing outside the document is read.
    """
    fetched_at = _as_utc(fetched_at)
    content_type = headers.get("content-type") or headers.get("Content-Type") or ""
    _reject_non_feed(body, content_type)
    response_headers = {k.lower(): v for k, v in headers.items()}
    response_headers.setdefault("content-location", url)
    limit = DEFAULT_MAX_ITEMS if max_entries is None else max(0, max_entries)
    prepared = to_utf8(body, content_type)
    if prepared is not None:
        body, response_headers["content-type"] = prepared
        body = keep_newest(body, max(1, limit * _ITEM_SLACK), fetched_at)
    parsed = feedparser.parse(body, response_headers=response_headers)
    _check_bozo(parsed, declares_entities=b"<!ENTITY" in body[:65536])
    if not parsed.get("version") and not any(e.get("title") or e.get("link")
                                                for e in parsed.entries):
        raise ParseError("not a feed (no RSS or Atom elements found)")
    raw_entries: list[Any] = list(parsed.entries)
    shared_ids = _shared_ids(raw_entries)
    site_link = str(parsed.feed.get("link", ""))
    entries: dict[str, Entry] = {}
    for raw in raw_entries:
        entry = _entry(raw, url, fetched_at, shared_ids | {url, site_link})
        entries.setdefault(entry.key, entry)  # a repeated item keeps its first occurrence
    ordered = sorted(entries.values(), key=lambda e: e.published, reverse=True)
    return ParsedFeed(title=_plain_title(parsed.feed.get("title_detail")),
                      entries=ordered[:limit])


def _reject_non_feed(body: bytes, content_type: str) -> None:
    """ParseError for what is plainly not a feed: nothing, JSON or text, an HTML page."""
    # Strip BOMs and the NULs of UTF-16 so the sniffing below sees ASCII markup.
    stripped = body[:8192].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").replace(b"\x00", b"")
    if not stripped.strip() and not body[8192:].strip():
        raise ParseError("not a feed (empty document)")
    if stripped.startswith(b"{") and "json" in content_type.lower():
        return  # feedparser reads JSON Feed when the server says it is JSON
    if not stripped.startswith(b"<"):
        raise ParseError("not a feed (not an XML document)")
    head = _PROLOG.sub(b"", stripped[:4096], count=1)
    root = _ROOT.match(head)
    if root and root.group(2).lower() == b"html":
        raise ParseError("not a feed (got an HTML page)")


def _check_bozo(parsed: Any, *, declares_entities: bool) -> None:
    if not parsed.get("bozo"):
        return
    exc = parsed.get("bozo_exception")
    if not isinstance(exc, xml.sax.SAXException):
        return  # encoding overrides, a text/html content type etc. do not spoil the document
    message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    # Undeclared prefixes (e.g. media: without xmlns:media) are common and harmless.
    if "unbound prefix" in message:
        return
    if isinstance(exc, xml.sax.SAXParseException):
        message = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {message}"
    if declares_entities and "entity" in message:
        # feedparser drops the DOCTYPE's entity declarations (only plain character references
        # survive), so references to them end here instead of expanding or reading files.
        message += " (entity declarations are not expanded)"
    raise ParseError(f"malformed XML: {message}")


def _shared_ids(raw_entries: Iterable[Any]) -> set[str]:
    counts = Counter(str(e.get("id", "")).strip() for e in raw_entries)
    return {i for i, n in counts.items() if i and n > 1}


def _entry(raw: Any, feed_url: str, fetched_at: datetime, unusable_ids: set[str]) -> Entry:
    link = str(raw.get("link", "")).strip()
    url = urljoin(feed_url, link) if link else ""
    if not url.lower().startswith(("http://", "https://")):
        url = ""  # javascript:, data:, file: links are no links a reader may be given
    canonical = canonical_url(url) if url else ""
    text = _entry_text(raw)
    # No title: the start of the text stands in, so a digest never shows an empty headline.
    title = _plain_title(raw.get("title_detail")) or clean_line(text, _UNTITLED_CHARS)
    raw_date = str(_field(raw, "published") or _field(raw, "updated")
                   or _field(raw, "created") or "")
    key = _entry_key(str(raw.get("id", "")).strip(), canonical, unusable_ids, title, raw_date)
    return Entry(key=key, url=url, canonical_url=canonical, title=title, text=text,
                 published=_published(raw, fetched_at))


def _entry_key(guid: str, canonical: str, unusable_ids: set[str], title: str,
               raw_date: str) -> str:
    """GUID when it identifies the story, else canonical link, else a hash of title+date."""
    if guid and guid not in unusable_ids and not _volatile_id(guid):
        return canonical_url(guid) if guid.lower().startswith(("http://", "https://")) else guid
    if canonical:
        return canonical
    digest = hashlib.sha1(f"{title}\n{raw_date}".encode()).hexdigest()
    return f"sha1:{digest}"


def _volatile_id(guid: str) -> bool:
    if not guid.lower().startswith(("http://", "https://")):
        return False
    parts = urlsplit(guid)
    if parts.path not in ("", "/"):
        return False
    values = [unquote(pair.partition("=")[2]) for pair in parts.query.split("&") if pair]
    return bool(values) and all(_EPOCH.match(v) for v in values)


def _entry_text(raw: Any) -> str:
    """The item's full content, else its description, without site furniture.

    Full-content feeds carry the same share prompts, credits and "اقرأ أيضا" lists as the
    pages, so they get the extract stage's boilerplate rules too.
    """
    for detail in [*(raw.get("content") or []), raw.get("summary_detail")]:
        text = strip_boilerplate(clean_text(_detail_text(detail)))
        if text:
            return text
    return ""


def _detail_text(detail: Any) -> str:
    if not detail:
        return ""
    value = str(detail.get("value", ""))
    if "html" in str(detail.get("type", "text/html")):
        return html_to_text(value)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", value))
    return "\n\n".join(p for p in paragraphs if p).translate(_INVISIBLE)


def _plain_title(detail: Any) -> str:
    """One clean line: markup removed (also from "plain" titles that carry tags), no
    control or bidi characters, at most ``MAX_TITLE_CHARS`` characters."""
    if not detail:
        return ""
    value = str(detail.get("value", ""))
    if "html" in str(detail.get("type", "")) or _MARKUP.search(value):
        value = html_to_text(value)
    return clean_line(value)


def _published(raw: Any, fetched_at: datetime) -> datetime:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = _field(raw, field)
        if parsed:
            try:
                when = datetime(parsed[0], parsed[1], parsed[2], parsed[3], parsed[4],
                                parsed[5], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
            if when < EARLIEST_DATE:
                return fetched_at  # 1970 and the like: a missing date, not an old story
            return min(when, fetched_at)  # a date in the future is a publisher's clock error
    return fetched_at


def _field(raw: Any, name: str) -> Any:
    # Plain dict lookup: feedparser's own get() maps "updated" to "published" with a warning.
    return dict.get(raw, name)


def _as_utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def canonical_url(url: str, base: str | None = None) -> str:
    """A stable form of ``url`` for dedupe.

    Resolves against ``base``, lower-cases scheme and host, drops the default port, the
    fragment and tracking parameters (``utm_*``, ``fbclid``, ``traffic_source``...), sorts the
    remaining query parameters and upper-cases percent escapes. Non-HTTP URLs are only
    resolved and stripped of their fragment.
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    path = _upper_escapes(parts.path) or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def _clean_query(query: str) -> str:
    # Work on the raw "k=v" pieces so the publisher's own encoding of values is preserved.
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote(pair.partition("=")[0]).strip().lower()
        if name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append(_upper_escapes(pair))
    return "&".join(sorted(kept))


def _upper_escapes(text: str) -> str:
    return _PERCENT.sub(lambda m: m.group(0).upper(), text)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: paragraphs separated by a blank line.

    Scripts and styles are dropped, entities unescaped and whitespace collapsed inside each
    paragraph; block elements and ``<br>`` start new paragraphs. A list right after an
    "اقرأ أيضا" / "Related" heading is other articles' headlines and is dropped.
    """
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", html)
                           if p.strip()).translate(_INVISIBLE)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return " ".join(html.split())
    for element in list(root.iter(*_DROP_TAGS, lxml.etree.Comment,
                                  lxml.etree.ProcessingInstruction)):
        _drop_keep_tail(element)
    for element in list(root.iter("ul", "ol")):
        if _follows_related_header(element):
            _drop_keep_tail(element)
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join("".join(current).translate(_INVISIBLE).split())
        if text:
            paragraphs.append(text)
        current.clear()

    for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
        block = isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS
        if event == "start":
            if block:
                flush()
            current.append(element.text or "")
        else:
            if block:
                flush()
            if element is not root:
                current.append(element.tail or "")
    flush()
    return "\n\n".join(paragraphs)


def _follows_related_header(element: Any) -> bool:
    """Whether the text just before ``element`` is a related-articles heading.

    The structure says what the text rules cannot: every item of such a list is a headline,
    even one that ends like a sentence ("؟", ".").
    """
    previous = element.getprevious()
    if previous is None:
        parent = element.getparent()
        before = parent.text if parent is not None else ""
    elif (previous.tail or "").strip():
        before = previous.tail
    else:
        before = previous.text_content()
    return bool(before and before.strip()) and is_related_header(" ".join(before.split()))


def _drop_keep_tail(element: Any) -> None:
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)
