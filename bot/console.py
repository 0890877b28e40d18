"""Terminal output for the CLI: progress lines, tables, search results, export records."""

from __future__ import annotations

import logging
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import click

from bot.digest import relative_time
from bot.models import FeedState, ModelInfo
from bot.pipeline import FeedReport, RefreshReport
from bot.search import SearchPage
from bot.store import StoredArticle
from bot.store.sqlite import HIGHLIGHT_END, HIGHLIGHT_START


def setup_logging(verbose: bool) -> None:
    """Log to stderr; httpx logs request URLs (a Bot API URL holds the token), so it is muted."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # argostranslate logs failures that Nashra reports itself, in one clearer line.
    # Its modules set their own levels at import, so cut the branch off instead.
    if not verbose:
        argos = logging.getLogger("argostranslate")
        argos.addHandler(logging.NullHandler())
        argos.propagate = False


class _RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out a secret wherever it appears (URLs, tracebacks)."""

    def __init__(self, base: logging.Formatter | None, secret: str) -> None:
        super().__init__()
        self._base = base or logging.Formatter()
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return self._base.format(record).replace(self._secret, "<redacted>")


def protect_secret(secret: str) -> None:
    """Make sure ``secret`` (the bot token) never reaches a log line."""
    if not secret:
        return
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_RedactingFormatter(handler.formatter, secret))


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
        notes.append(f"{report.untranslated} not in the source language")
    if report.extract_failures:
        notes.append(f"{report.extract_failures} pages unreadable, summary kept")
    return "ok" + (f" ({'; '.join(notes)})" if notes else "")


def feed_progress_line(report: FeedReport) -> None:
    """One line on stderr as each feed finishes its fetch and extraction."""
    mark = "✗" if report.error else "✓"
    click.echo(f"{mark} {report.name}: {feed_status(report)}", err=True)


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
        rows.append([clip(feed.name, 30), clip(feed.url, 60), last, str(feed.article_count),
                     errors])
    return table(["Feed", "URL", "Last fetch", "Articles", "Errors"], rows)


def models_table(models: Sequence[ModelInfo]) -> str:
    rows = [[f"{m.source}→{m.target}", m.version, f"{m.size_bytes / 1e6:.1f} MB", m.id, m.path]
            for m in models]
    return table(["Pair", "Version", "Size", "Id", "Path"], rows)


def highlight(snippet: str, color: bool) -> str:
    if color:
        return snippet.replace(HIGHLIGHT_START, "\x1b[1m").replace(HIGHLIGHT_END, "\x1b[0m")
    return snippet.replace(HIGHLIGHT_START, "[").replace(HIGHLIGHT_END, "]")


def search_results(page: SearchPage, *, color: bool) -> str:
    if not page.hits:
        if page.offset:
            return "No more results."
        return f"No results for {page.query!r}."
    lines = [] if page.matched_all_terms else ["No article has every word; showing any-word "
                                              "matches."]
    for rank, hit in enumerate(page.hits, start=page.offset + 1):
        a = hit.article
        title = a.title_translated or a.title_original
        lines += [f"{rank}. {title}",
                  f"   {a.feed_name} · {a.published:%Y-%m-%d %H:%M} UTC",
                  f"   {highlight(' '.join(hit.snippet.split()), color)}",
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
    }


def describe(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    if hours < 1:
        return f"{int(duration.total_seconds() // 60)} minutes"
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


class _DownloadBar:
    """Opens a click progress bar on the first report, when the total size is known."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def update(self, done: int, total: int | None) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total or 0, label="Downloading model",
                                          file=sys.stderr, show_pos=False)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@contextmanager
def download_bar() -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar for model downloads; yields an update(done, total) callback."""
    bar = _DownloadBar()
    try:
        yield bar.update
    finally:
        bar.close()
