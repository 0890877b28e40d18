"""Prometheus metrics and the optional ``/metrics`` + ``/healthz`` HTTP endpoint.

The counters live in a registry of Nashra's own (never prometheus-client's global one), held
by one :class:`Metrics` per process: :func:`current`. Tests, or several applications in one
process, swap in a fresh one with :func:`use`. The places that know feed them with one call
each: :func:`record_refresh` at the end of every refresh (from its :class:`RefreshReport`),
:func:`message_sent` / :func:`send_refused` in delivery, :func:`too_many_requests` in the
rate limiter for replies.

What the database knows (outbox depth, digest lag) is read when Prometheus scrapes, by
:class:`StoreCollector`, in the server's own thread on a read-only connection: a scrape never
waits for the event loop and never holds it.

Feed errors carry the feed's name as a label. A feed gets a series only once it has failed;
with 10,000 feeds that could mean 10,000 series in the worst case, which Prometheus handles,
and the per-result ``nashra_feed_fetches_total`` gives the totals without any per-feed label.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bot.config import listen_address
from bot.errors import NashraError, StoreError
from bot.store.status import StatusReader

if TYPE_CHECKING:
    from bot.pipeline import RefreshReport

log = logging.getLogger(__name__)
# A health check answers None when all is well, else a one-line reason.
HealthCheck = Callable[[], str | None]


class MetricsError(NashraError):
    """The metrics endpoint could not start (address in use, no such host...)."""


class Metrics:
    """Every counter Nashra keeps, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.refreshes = Counter("nashra_refreshes", "Refreshes completed.", registry=r)
        self.last_refresh = Gauge("nashra_last_refresh_timestamp_seconds",
                                  "When the last refresh ended (Unix time).", registry=r)
        self.feed_fetches = Counter("nashra_feed_fetches", "Feeds fetched, by result "
                                    "(ok, not_modified, error).", ["result"], registry=r)
        self.feed_errors = Counter("nashra_feed_errors", "Failed fetches of each feed "
                                   "(a feed appears once it has failed).", ["feed"], registry=r)
        self.fetched = Counter("nashra_articles_fetched", "Feed items with a link read "
                               "from the feeds (new or already stored).", registry=r)
        self.stored = Counter("nashra_articles_stored", "New articles stored.", registry=r)
        self.translated = Counter("nashra_articles_translated", "Articles translated "
                                  "(new ones, and earlier ones translated again).", registry=r)
        self.untranslated = Counter("nashra_articles_untranslated", "New articles stored "
                                    "not or only partly translated.", registry=r)
        self.translation_seconds = Counter("nashra_translation_seconds", "Seconds spent "
                                           "translating (model and cache).", registry=r)
        self.sentences = Counter("nashra_translation_sentences", "Sentences translated by "
                                 "the model.", registry=r)
        self.cache_hits = Counter("nashra_translation_cache_hits", "Sentences served from "
                                  "the translation cache.", registry=r)
        self.sent = Counter("nashra_messages_sent", "Outbox messages Telegram accepted.",
                            registry=r)
        self.failed = Counter("nashra_messages_failed", "Outbox sends Telegram refused, by "
                              "reason (bad_request ones are given up; the others are retried "
                              "or end with the chat).", ["reason"], registry=r)
        self.too_many = Counter("nashra_telegram_429", "429 Too Many Requests answers, by "
                                "path (outbox or reply).", ["path"], registry=r)


_current = Metrics()


def current() -> Metrics:
    """This process's metrics."""
    return _current


def use(metrics: Metrics) -> Metrics:
    """Make ``metrics`` this process's metrics; returns the previous ones."""
    global _current
    previous, _current = _current, metrics
    return previous


def record_refresh(report: RefreshReport) -> None:
    """Count what one refresh did (feeds postponed by their back-off were not fetched)."""
    m = _current
    for feed in report.feeds:
        if feed.postponed_until is not None:
            continue
        result = "error" if feed.error else "not_modified" if feed.not_modified else "ok"
        m.feed_fetches.labels(result).inc()
        if feed.error:
            m.feed_errors.labels(feed.name).inc()
        m.fetched.inc(feed.new + feed.skipped)
        m.stored.inc(feed.new)
        m.untranslated.inc(feed.untranslated)
        m.translated.inc(max(0, feed.new - feed.untranslated))
    m.translated.inc(report.retranslated)
    m.sentences.inc(report.sentences_translated)
    m.cache_hits.inc(report.cache_hits)
    m.translation_seconds.inc(max(0.0, report.translate_seconds))
    m.refreshes.inc()
    m.last_refresh.set_to_current_time()


def message_sent() -> None:
    _current.sent.inc()


def send_refused(error_class: str) -> None:
    """Telegram refused an outbox send with this python-telegram-bot error class."""
    if error_class == "RetryAfter":
        too_many_requests("outbox")
    else:
        _current.failed.labels(_snake(error_class)).inc()


def too_many_requests(path: str) -> None:
    _current.too_many.labels(path).inc()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# scrape time --------------------------------------------------------------------------------

class StoreCollector:
    """Outbox depth and digest lag, read from the database at each scrape."""

    def __init__(self, reader: StatusReader, clock: Callable[[], datetime]) -> None:
        self._reader, self._clock = reader, clock

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        up, depth, lag = self._families()
        try:
            counts = self._reader.outbox_depth()
            due = self._reader.oldest_due()
        except StoreError as exc:
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for status, count in counts.items():
            depth.add_metric([status], count)
        late = (self._clock() - due).total_seconds() if due is not None else 0.0
        lag.add_metric([], max(0.0, late))
        yield from (up, depth, lag)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("nashra_store_up", "1 when the database answered this scrape."),
            GaugeMetricFamily("nashra_outbox_messages", "Outbox messages by status (pending, "
                              "sending, failed).", labels=["status"]),
            GaugeMetricFamily("nashra_digest_lag_seconds", "How late the most overdue chat's "
                              "digest is (0: none overdue)."))


class _Forward:
    """The process's counters, as one collector of a server's registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


# the endpoint -------------------------------------------------------------------------------

class MetricsServer:
    """``GET /metrics`` and ``GET /healthz`` on ``listen``, served by threads of its own."""

    def __init__(self, listen: str, database: Path | str, check: HealthCheck | None = None,
                 *, metrics: Metrics | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.listen = listen
        self.reader = StatusReader(database)
        self.check = check or (lambda: None)
        self.registry = CollectorRegistry()
        self.registry.register(_Forward((metrics or _current).registry))
        self.registry.register(StoreCollector(self.reader, clock or (lambda: datetime.now(UTC))))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        """Bind and serve; MetricsError (one line) if the address cannot be used."""
        host, port = listen_address(self.listen)
        server_class = _IPv6Server if ":" in host else _Server
        try:
            self._server = server_class((host, port), _handler(self))
        except OSError as exc:
            raise MetricsError(f"metrics: could not listen on {self.listen}: "
                               f"{exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="nashra-metrics", daemon=True)
        self._thread.start()
        log.info("metrics on http://%s/metrics, health on /healthz", self.listen)
        return self

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.reader.close()

    def health(self) -> str | None:
        """None when healthy, else why not (the database first, then the process)."""
        try:
            self.reader.ping()
        except StoreError as exc:
            return str(exc)   # "store: ..."
        try:
            return self.check()
        except Exception as exc:  # a broken check is an unhealthy answer, not a crash
            return f"health check failed: {type(exc).__name__}"


def serve(listen: str, database: Path | str, check: HealthCheck | None = None) -> \
        MetricsServer | None:
    """The endpoint started on ``listen`` (metrics.listen), or None when that is ""."""
    return MetricsServer(listen, database, check).start() if listen else None


def serving(listen: str, database: Path | str, check: HealthCheck | None = None,
            ) -> AbstractContextManager[MetricsServer | None]:
    """:func:`serve` now (a bind failure raises here), closed at the end of the ``with``."""
    server = serve(listen, database, check)
    return server if server is not None else nullcontext()


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def _handler(owner: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(owner.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                problem = owner.health()
                line = "ok" if problem is None else " ".join(problem.split())
                self._answer(200 if problem is None else 503, (line + "\n").encode(),
                             "text/plain; charset=utf-8")
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n",
                             "text/plain; charset=utf-8")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # every scrape would be a log line

    return Handler
