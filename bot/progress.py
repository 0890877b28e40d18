"""Progress of long commands on a terminal: `nashra fetch` and model downloads.

A :class:`StatusLine` is one line at the bottom of the terminal, redrawn in place; lines
printed :meth:`~StatusLine.above` it scroll as usual. When standard error is not a terminal
(a pipe, a log file, cron, systemd) nothing is drawn: a log gets no carriage returns and no
escape codes, only the lines it had before (one per feed from `nashra fetch`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from bot import console
from bot.pipeline import FeedReport, RefreshReport

CLEAR = "\r\x1b[K"   # back to the start of the line, erase it
REDRAW_SECONDS = 0.25   # while translation runs, the counts change without any feed finishing


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


class StatusLine:
    """One line redrawn in place on a terminal; nothing at all elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream)
        self._text = ""
        self._lock = threading.Lock()   # the redraw thread and the caller both write
        # A log line on the same terminal first erases the status (the next redraw puts it
        # back below), instead of being glued to its end.
        self._handlers = [h for h in logging.getLogger().handlers
                          if isinstance(h, logging.StreamHandler) and h.stream is self.stream
                          ] if self.enabled else []
        for handler in self._handlers:
            handler.addFilter(self._erase_for_log)

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._text = text
            self._draw()

    def above(self, line: str) -> None:
        """Print ``line`` above the status (on any stream: terminal or not)."""
        if not self.enabled:
            click.echo(line, file=self.stream)
            return
        with self._lock:
            self.stream.write(f"{CLEAR}{line}\n")
            self._draw()

    def close(self) -> None:
        """Erase the status line (what was printed above it stays)."""
        if not self.enabled:
            return
        for handler in self._handlers:
            handler.removeFilter(self._erase_for_log)
        with self._lock:
            self._text = ""
            self.stream.write(CLEAR)
            self.stream.flush()

    def _erase_for_log(self, _record: logging.LogRecord) -> bool:
        with self._lock:
            if self._text:
                self.stream.write(CLEAR)
        return True

    def _draw(self) -> None:
        self.stream.write(CLEAR + console.clip(self._text, max(10, _columns(self.stream) - 1)))
        self.stream.flush()


class RefreshProgress:
    """`nashra fetch`: a line per feed as it finishes, and below them feeds done of the
    total, articles stored and sentences translated so far."""

    def __init__(self, line: StatusLine, sentences: Callable[[], int]) -> None:
        self.line = line
        self._sentences = sentences
        self._report: RefreshReport | None = None
        self._done = 0
        self._stop = threading.Event()
        self._redraws: threading.Thread | None = None

    def started(self, report: RefreshReport) -> None:
        """The feeds to fetch are known (``report`` fills as the refresh goes)."""
        self._report = report
        self.redraw()
        if self.line.enabled:
            self._redraws = threading.Thread(target=self._redraw_until_stopped,
                                             name="nashra-progress", daemon=True)
            self._redraws.start()

    def feed_done(self, feed: FeedReport) -> None:
        self._done += 1
        mark = "✗" if feed.error else "✓"
        self.line.above(f"{mark} {feed.name}: {console.feed_status(feed)}")
        self.redraw()

    def redraw(self) -> None:
        report = self._report
        if report is None:
            return
        self.line.show(f"feeds {self._done}/{report.claimed} · "
                       f"{console.plural(len(report.new_article_ids), 'article')} stored · "
                       f"{console.plural(self._sentences(), 'sentence')} translated")

    def close(self) -> None:
        """The last counts, then the line is erased (the summary table follows)."""
        self._stop.set()
        if self._redraws is not None:
            self._redraws.join()
        self.redraw()
        self.line.close()

    def _redraw_until_stopped(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self.redraw()


@contextmanager
def refresh_progress(sentences: Callable[[], int]) -> Iterator[RefreshProgress]:
    progress = RefreshProgress(StatusLine(), sentences)
    try:
        yield progress
    finally:
        progress.close()


class DownloadProgress:
    """Bytes downloaded of the total (when the server said it), redrawn at most every
    ``REDRAW_SECONDS``."""

    def __init__(self, line: StatusLine, label: str = "Downloading model") -> None:
        self.line, self.label = line, label
        self._last = 0.0

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < REDRAW_SECONDS and done != total:
            return
        self._last = now
        if total:
            self.line.show(f"{self.label}: {_megabytes(done)} of {_megabytes(total)} MB "
                           f"({100 * done // total}%)")
        else:
            self.line.show(f"{self.label}: {_megabytes(done)} MB")


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f}"


@contextmanager
def download_bar() -> Iterator[Callable[[int, int | None], None]]:
    """A download's progress on a terminal; yields its update(done, total) callback."""
    line = StatusLine()
    try:
        yield DownloadProgress(line).update
    finally:
        line.close()
