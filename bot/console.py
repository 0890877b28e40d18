"""Terminal output for the CLI: progress lines, tables, search results, export records."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

from bot.digest import relative_time
from bot.models import FeedState, ModelInfo
from bot.pipeline import FeedReport, RefreshReport
from bot.search import SearchPage
from bot.snippets import Snippet, snippet_text
from bot.store import StoredArticle

TOKEN_ENV = "NASHRA_TELEGRAM_TOKEN"
REDACTED = "<redacted>"
_secrets: set[str] = set()  # every form of every protected secret, longest replaced first
_installed = False


def setup_logging(verbose: bool) -> None:
    """Log to stderr, with secrets redacted; httpx logs request URLs (a Bot API URL holds the
    token), so it is muted as well."""
    protect_secret(os.environ.get(TOKEN_ENV, ""))  # before the first log line, not after
    _install_excepthooks()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    _wrap_root_formatters()
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # argostranslate logs failures that Nashra reports itself, in one clearer line.
    # Its modules set their own levels at import, so cut the branch off instead.
    if not verbose:
        argos = logging.getLogger("argostranslate")
        argos.addHandler(logging.NullHandler())
        argos.propagate = False


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` can show up in text: as is, URL-encoded (either hex case), and
    for a bot token (``<bot id>:<key>``) the key alone, which no encoding changes."""
    forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in set(forms)}
    _bot_id, colon, key = secret.partition(":")
    if colon and len(key) >= 16:
        forms.add(key)
    return {form for form in forms if len(form) >= 8}


def redact(text: str) -> str:
    """``text`` with every protected secret replaced by ``<redacted>``."""
    for form in sorted(_secrets, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def protect_secret(secret: str) -> None:
    """Make sure ``secret`` (the bot token) never reaches a log line or a traceback on stderr.

    Two layers: every LogRecord is redacted as it is created (message, arguments, exception
    text, stack), so handlers added at any time are covered, pytest's too; and the root
    handlers' formatters redact the final line. (setup_logging also prints uncaught
    exceptions redacted.) Secrets added later are covered by what is already installed.
    """
    if not secret:
        return
    _secrets.update(secret_forms(secret))
    _install_record_factory()
    _wrap_root_formatters()


class _RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out secrets wherever they appear (URLs, tracebacks)."""

    def __init__(self, base: logging.Formatter | None) -> None:
        super().__init__()
        self._base = base or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._base.format(record))


def _wrap_root_formatters() -> None:
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, _RedactingFormatter):
            handler.setFormatter(_RedactingFormatter(handler.formatter))


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call; logging reports it itself when formatting
        return
    if redact(message) != message:
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_record_factory() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if _secrets:
            _redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)


def _install_excepthooks() -> None:
    """Print uncaught exceptions (any thread) redacted; hooks someone else installed (a test
    runner's) are left in place."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_redacted
    if threading.excepthook is getattr(threading, "__excepthook__", None):
        threading.excepthook = _print_thread_redacted


def _print_redacted(kind: type[BaseException], exc: BaseException,
                    tb: TracebackType | None) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))


def _print_thread_redacted(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    name = args.thread.name if args.thread else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def width(text: str) -> int:
    """Display width: combining marks take no column, wide East Asian characters take two."""
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table."""
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = (c + " " * (w - width(c)) for c, w in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)]).rstrip()


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def feed_status(report: FeedReport) -> str:
    if report.error:
        prefix = "backing off; last error: " if report.postponed_until else ""
        return prefix + report.error
    if report.postponed_until:
        return f"postponed until {report.postponed_until:%H:%M} UTC"
    if report.not_modified:
        return "not modified (304)"
    notes = []
    if report.untranslated:
        notes.append(f"{report.untranslated} not or only partly translated")
    if report.extract_failures:
        notes.append(f"{report.extract_failures} pages unreadable, summary kept")
    if report.dropped:
        notes.append(f"{report.dropped} items without a link skipped")
    if report.moved_to:
        notes.append(f"moved permanently to {report.moved_to}")
    return "ok" + (f" ({'; '.join(notes)})" if notes else "")


def refresh_table(report: RefreshReport) -> str:
    rows = [[clip(f.name, 30), str(f.new), str(f.skipped), "1" if f.error else "0",
             clip(feed_status(f), 70)] for f in report.feeds]
    summary = (f"\n{plural(report.new_articles, 'new article')} from "
               f"{plural(len(report.feeds), 'feed')}, {report.failed_feeds} failed; "
               "sentences translated: "
               f"{report.sentences_translated}, from cache: {report.cache_hits} "
               f"(model {report.model})")
    return table(["Feed", "New", "Skipped", "Errors", "Status"], rows) + summary


def feeds_table(states: Sequence[FeedState], now: datetime) -> str:
    rows = []
    for feed in states:
        last = relative_time(feed.last_fetched, now) if feed.last_fetched else "never"
        errors = str(feed.error_count)
        if feed.last_error:
            errors += f" ({clip(feed.last_error, 50)})"
        rows.append([clip(feed.name, 30), clip(feed.category, 20), clip(feed.url, 60), last,
                     str(feed.article_count), errors, _feed_state(feed, now)])
    return table(["Feed", "Category", "URL", "Last fetch", "Articles", "Errors", "State"], rows)


def _feed_state(feed: FeedState, now: datetime) -> str:
    if not feed.active:
        return "removed"
    if feed.paused_at:
        return f"paused {relative_time(feed.paused_at, now)}"
    return "active"


def models_table(models: Sequence[ModelInfo]) -> str:
    rows = [[f"{m.source}→{m.target}", m.version, f"{m.size_bytes / 1e6:.1f} MB", m.id, m.path]
            for m in models]
    return table(["Pair", "Version", "Size", "Id", "Path"], rows)


def highlight(snippet: Snippet, color: bool) -> str:
    if color:
        return snippet_text(snippet, "\x1b[1m", "\x1b[0m")
    return snippet_text(snippet)


def search_results(page: SearchPage, *, color: bool) -> str:
    notes = [*page.query.problems,
             *(f"No source matches {name!r} (`nashra feeds` lists them)."
               for name in page.unknown_sources)]
    if not page.hits:
        if page.offset:
            return "No more results."
        return "\n".join([*notes, f"No results for {page.text!r}."])
    if not page.matched_all_terms:
        notes.append("No story has every word; showing stories with some of them.")
    lines = [*notes, ""] if notes else []
    for rank, hit in enumerate(page.hits, start=page.offset + 1):
        a = hit.article
        title = a.title_translated or a.title_original
        also = f" · also in {hit.outlets - 1} more" if hit.outlets > 1 else ""
        lines += [f"{rank}. {title}",
                  f"   {a.feed_name} · {a.published:%Y-%m-%d %H:%M} UTC{also} · id {a.id}",
                  f"   {highlight(hit.snippet, color)}",
                  f"   {a.url}", ""]
    if page.has_more:
        lines.append(f"More results: add --page {page.offset // page.limit + 2}")
    return "\n".join(lines).rstrip()


def export_record(article: StoredArticle) -> dict[str, Any]:
    return {
        "id": article.id, "feed": article.feed_name, "feed_id": article.feed_id,
        "url": article.url, "published": article.published.isoformat(),
        "fetched": article.fetched.isoformat(), "language": article.language,
        "title_original": article.title_original, "text_original": article.text_original,
        "title_translated": article.title_translated,
        "text_translated": article.text_translated, "lead": article.lead,
        "model": article.model, "untranslated": article.untranslated,
        "story": article.story_id,
    }


def describe(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    if hours < 1:
        return f"{int(duration.total_seconds() // 60)} minutes"
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"
