"""OPML in and out: the feed lists other readers export and import.

Reading: the XML is checked well-formed first (expat gives the line and column of a broken
file, and DTD entity declarations are refused outright: no entity expansion bombs), then
``listparser`` collects the outlines. A feed's category is its folder path ("News / Gulf"),
or its OPML 2.0 ``category`` attribute. Exports write one folder level per category, named
after the whole path: Feedly, Inoreader and Miniflux import a single level of folders.

No I/O here: callers read files, download documents and resolve host names.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.parsers import expat

import listparser

from bot.errors import StageError
from bot.i18n import N_
from bot.models import FeedState

MAX_URL_CHARS = 2048       # as /addfeed
MAX_NAME_CHARS = 100       # as /addfeed
MAX_CATEGORY_CHARS = 100
CATEGORY_SEPARATOR = " / "
_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Characters XML 1.0 cannot carry at all (a name with one would make the export unreadable).
_XML_INVALID = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE,
                              0xFFFF])


class OpmlError(StageError):
    """The file is not a readable OPML subscription list."""

    stage = "opml"


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of a list: its address (identity), name and category ("" for none)."""

    url: str
    name: str
    category: str = ""


@dataclass(frozen=True)
class Skipped:
    """An outline that was not taken, and why (plain text)."""

    what: str      # the URL, or the outline's title when it has no usable URL
    reason: str


@dataclass(frozen=True)
class OpmlImport:
    """What a file holds: the feeds to take, in file order, and the outlines left out."""

    feeds: list[OpmlFeed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    title: str = ""

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.feeds if f.category})


@dataclass(frozen=True)
class ImportPlan:
    """An import compared with the feeds followed now."""

    new: list[OpmlFeed]          # added, or revived when an admin had removed them
    present: list[OpmlFeed]      # followed already: left as they are
    skipped: list[Skipped]

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.new if f.category})


# reading ----------------------------------------------------------------------------------

def parse_opml(data: bytes, source: str = "OPML file") -> OpmlImport:
    """The feeds of an OPML document; ``source`` names it in errors (a file name).

    Raises :class:`OpmlError` for broken XML (with the line) and for XML that is no OPML.
    """
    _check_well_formed(data, source)
    parsed: Any = listparser.parse(_as_utf8(data, source))
    if not str(parsed.get("version", "")).startswith("opml"):
        raise OpmlError(f"{source} is not an OPML file (no <opml> element)")
    feeds: list[OpmlFeed] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for outline in parsed["feeds"]:
        feed, problem = _feed(outline)
        if problem is not None:
            skipped.append(problem)
        elif feed is not None and feed.url not in seen:
            seen.add(feed.url)
            feeds.append(feed)
        elif feed is not None:
            skipped.append(Skipped(feed.url, N_("listed twice")))
    skipped += [Skipped(str(item.get("url", "")), N_("a link to another subscription list"))
                for item in parsed["lists"]]
    skipped += [Skipped(str(item.get("title") or item.get("url", "")),
                        N_("no feed address (xmlUrl), only a web page"))
                for item in parsed["opportunities"]]
    return OpmlImport(feeds, skipped, str(parsed["meta"].get("title", "")))


def _check_well_formed(data: bytes, source: str) -> None:
    if not data.strip():
        raise OpmlError(f"{source} is empty")
    parser = expat.ParserCreate()

    def refuse_entities(*_args: object) -> None:
        raise OpmlError(f"{source} declares XML entities, which OPML never needs; refused")

    parser.EntityDeclHandler = refuse_entities
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"{source} is not well-formed XML: line {exc.lineno}, column "
                        f"{exc.offset + 1}: {expat.errors.messages[exc.code]}") from None
    except (LookupError, UnicodeError):
        raise OpmlError(f"{source} is in an unknown or wrong character encoding") from None


def _as_utf8(data: bytes, source: str) -> bytes:
    """The document in UTF-8, saying so: listparser's HTML parser reads a document without
    an encoding declaration as Latin-1, and ignores legacy ones such as windows-1256."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        declared = _ENCODING.match(data)
        encoding = declared[1].decode("ascii") if declared else "utf-8"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        raise OpmlError(f"{source} is not in the encoding it declares ({encoding})") from None
    text = _DECLARATION.sub("", text, count=1)
    return ('<?xml version="1.0" encoding="UTF-8"?>' + text).encode("utf-8")


def _feed(outline: Any) -> tuple[OpmlFeed | None, Skipped | None]:
    raw = str(outline.get("url", ""))
    url, problem = normalize_url(raw)
    if problem is not None:
        return None, Skipped(clean(raw, MAX_URL_CHARS) or clean(outline.get("title", ""), 100),
                             problem)
    name = clean(str(outline.get("title", "")), MAX_NAME_CHARS) or fallback_name(url)
    categories = outline.get("categories") or []
    # listparser puts the outline's own category attribute first, then its folder path.
    category = category_name(categories[0]) if categories else ""
    return OpmlFeed(url, name, category), None


def normalize_url(raw: str) -> tuple[str, str | None]:
    """The URL as stored (spaces trimmed, scheme and host lower-case: paths keep their
    case, which servers distinguish), or the reason it is refused."""
    text = raw.strip()
    if not text:
        return "", N_("no feed address")
    if len(text) > MAX_URL_CHARS:
        return "", N_("the address is too long")
    if not text.isprintable() or " " in text:   # other spaces are not printable
        return "", N_("the address contains spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "", N_("not a valid web address")
    if parts.scheme.lower() not in ("http", "https"):
        return "", N_("not an http(s) address")
    if not host:
        return "", N_("the address has no host")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = userinfo + at + hostport.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query,
                       parts.fragment)), None


def fallback_name(url: str) -> str:
    """A name for a feed without a title: its host, without "www."."""
    host = urlsplit(url).hostname or url
    return clean(host.removeprefix("www."), MAX_NAME_CHARS)


def category_name(path: Iterable[str]) -> str:
    """A folder path as one category: "News / Gulf"."""
    parts = [clean(p, MAX_CATEGORY_CHARS) for p in path]
    return clean(CATEGORY_SEPARATOR.join(p for p in parts if p), MAX_CATEGORY_CHARS)


def clean(text: str, limit: int) -> str:
    """One line of text XML can carry, at most ``limit`` characters."""
    text = " ".join(str(text).translate(_XML_INVALID).split())
    return text[:limit].rstrip()


# comparing with the feeds followed ------------------------------------------------------

def followed(feeds: Sequence[FeedState], configured: Iterable[str]) -> list[FeedState]:
    """The feeds Nashra refreshes: active ones that are configured or were added by admins."""
    urls = set(configured)
    return [f for f in feeds if f.active and (f.origin == "user" or f.url in urls)]


def plan_import(found: OpmlImport, known: Sequence[FeedState],
                configured: Iterable[str]) -> ImportPlan:
    """Split an import into feeds to add (new or revived) and feeds followed already."""
    configured = list(configured)
    watched = followed(known, configured)
    present_urls = {u.lower() for f in watched for u in (f.url, f.fetch_url) if u}
    # A removed feed comes back under the address it is stored with.
    stored = {f.url.lower(): f.url for f in known}
    # Configured feeds not stored yet (the bot never ran) are followed all the same.
    present_urls |= {u.lower() for u in configured if u.lower() not in stored}
    new, present = [], []
    for feed in found.feeds:
        key = feed.url.lower()
        if key in present_urls:
            present.append(feed)
        else:
            new.append(replace(feed, url=stored.get(key, feed.url)))
    return ImportPlan(new, present, list(found.skipped))


# writing ------------------------------------------------------------------------------------

def export_opml(feeds: Sequence[OpmlFeed], *, title: str = "Nashra feeds",
                created: datetime | None = None) -> bytes:
    """An OPML 2.0 document: uncategorised feeds first, then a folder per category."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = clean(title, 200)
    if created is not None:
        ET.SubElement(head, "dateCreated").text = format_datetime(created)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in sorted(feeds, key=lambda f: f.category):
        parent = body
        if feed.category:
            label = clean(feed.category, MAX_CATEGORY_CHARS)
            parent = folders.get(label) or ET.SubElement(body, "outline", text=label,
                                                          title=label)
            folders[label] = parent
        name = clean(feed.name, MAX_NAME_CHARS) or fallback_name(feed.url)
        ET.SubElement(parent, "outline", type="rss", text=name, title=name,
                      xmlUrl=clean(feed.url, MAX_URL_CHARS))
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def state_feeds(feeds: Sequence[FeedState]) -> list[OpmlFeed]:
    """Stored feeds as OPML entries."""
    return [OpmlFeed(f.url, f.name, f.category) for f in feeds]
