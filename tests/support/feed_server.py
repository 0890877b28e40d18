"""A real HTTP server on 127.0.0.1 for tests that need sockets, not mocks.

Usage::

    def test_something(feed_server: FeedServer) -> None:
        feed_server.add("/feed.xml", b"<rss .../>", headers={"Content-Type": "application/rss+xml"})
        url = feed_server.url("/feed.xml")
        ...
        assert feed_server.requests_for("/feed.xml")[0].headers["user-agent"].startswith("Nashra")

Routes are matched on the full request path first (``/a?x=1``), then on the path without
the query. Unknown paths answer 404. Every request is recorded with lower-case header names.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import pytest

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Route:
    """How the server answers one path; built by the ``FeedServer.add*`` methods."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    stream_size: int | None = None
    content_length: bool = True
    gzip: bool = False
    reset: bool = False
    drip: float = 0.0
    reset_after: int | None = None
    gate: threading.Event | None = None


class FeedServer:
    """ThreadingHTTPServer in a daemon thread on a random free loopback port.

    With ``ssl_context`` (a server-side context holding a certificate) it speaks HTTPS.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._scheme = "http"
        if ssl_context is not None:
            self._scheme = "https"
            # Handshake in the handler thread, so a client that fails it cannot stall the
            # accept loop.
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True,
                                                         do_handshake_on_connect=False)
            # Clients refusing the certificate are the point of a TLS test, not an error.
            self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="feed-server", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed handlers so they finish promptly
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (or https) without a trailing slash."""
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- routes ----------------------------------------------------------------------------

    def add(self, path: str, body: bytes, *, status: int = 200,
            headers: dict[str, str] | None = None, gzip: bool = False) -> str:
        """Answer ``path`` with ``body``; ``gzip=True`` sends it gzip-encoded. Returns the URL."""
        return self._put(path, Route(body=body, status=status, headers=dict(headers or {}),
                                     gzip=gzip))

    def add_conditional(self, path: str, body: bytes, *, etag: str | None = None,
                        last_modified: str | None = None,
                        headers: dict[str, str] | None = None) -> str:
        """Answer 200 with validators, or 304 when the request's validators match them."""
        return self._put(path, Route(body=body, headers=dict(headers or {}), etag=etag,
                                     last_modified=last_modified))

    def add_delay(self, path: str, seconds: float, body: bytes = b"late", *,
                  status: int = 200, headers: dict[str, str] | None = None) -> str:
        """Sleep ``seconds`` before answering (for timeouts and concurrency limits)."""
        return self._put(path, Route(body=body, status=status, headers=dict(headers or {}),
                                     delay=seconds))

    def add_gated(self, path: str, body: bytes, gate: threading.Event, *,
                  headers: dict[str, str] | None = None) -> str:
        """Hold every request for ``path`` until ``gate`` is set (a refresh held open)."""
        return self._put(path, Route(body=body, headers=dict(headers or {}), gate=gate))

    def add_large(self, path: str, size: int, *, content_length: bool = True,
                  headers: dict[str, str] | None = None) -> str:
        """Stream ``size`` bytes of ``x`` in chunks, declaring Content-Length or not."""
        return self._put(path, Route(headers=dict(headers or {}), stream_size=size,
                                     content_length=content_length))

    def add_redirect(self, path: str, location: str, *, status: int = 302) -> str:
        """Redirect ``path`` to ``location`` (a path on this server or an absolute URL)."""
        return self._put(path, Route(status=status, headers={"Location": location}))

    def add_reset(self, path: str) -> str:
        """Close the connection abruptly (RST) without sending any response."""
        return self._put(path, Route(reset=True))

    def add_drip(self, path: str, body: bytes, *, interval: float = 1.0) -> str:
        """Send the headers at once, then ``body`` one byte every ``interval`` seconds."""
        return self._put(path, Route(body=body, drip=interval,
                                     headers={"Content-Type": "application/rss+xml"}))

    def add_reset_mid_body(self, path: str, body: bytes, after: int) -> str:
        """Declare the whole ``body``, send its first ``after`` bytes, then reset (RST)."""
        return self._put(path, Route(body=body, reset_after=after,
                                     headers={"Content-Type": "application/rss+xml"}))

    def _put(self, path: str, route: Route) -> str:
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def route_for(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(path) or self._routes.get(path.split("?", 1)[0])

    # -- request log -----------------------------------------------------------------------

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path (with or without query) equals ``path``."""
        with self._lock:
            return [r for r in self.requests
                    if r.path == path or r.path.split("?", 1)[0] == path]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _wait(self, gate: threading.Event) -> None:
        # Bounded, and released by stop(), so a failing test never leaves a handler hanging.
        for _ in range(600):
            if gate.wait(0.1) or self._stopping.is_set():
                return


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: each response closes its connection, which also delimits bodies sent
        # without Content-Length.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(RecordedRequest("GET", self.path, headers))
            try:
                _respond(self, server, server.route_for(self.path), headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout or size cap): expected in tests
            finally:
                server._done()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean

    return Handler


def _respond(handler: BaseHTTPRequestHandler, server: FeedServer, route: Route | None,
             request_headers: dict[str, str]) -> None:
    if route is None:
        _send(handler, 404, {"Content-Type": "text/plain"}, b"not found")
        return
    if route.reset:
        _reset(handler)
        return
    if route.delay:
        server._sleep(route.delay)
    if route.gate is not None:
        server._wait(route.gate)
    if route.drip or route.reset_after is not None:
        _trickle(handler, server, route)
        return
    if route.stream_size is not None:
        _stream(handler, route)
        return
    validators = _validators(route)
    if validators and _matches(route, request_headers):
        _send(handler, 304, validators, b"")
        return
    body, headers = route.body, {**validators, **route.headers}
    if route.gzip:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    _send(handler, route.status, headers, body)


def _validators(route: Route) -> dict[str, str]:
    found: dict[str, str] = {}
    if route.etag:
        found["ETag"] = route.etag
    if route.last_modified:
        found["Last-Modified"] = route.last_modified
    return found


def _matches(route: Route, headers: dict[str, str]) -> bool:
    # RFC 9110: If-None-Match takes precedence over If-Modified-Since when both are sent.
    if "if-none-match" in headers and route.etag:
        tags = [t.strip() for t in headers["if-none-match"].split(",")]
        return route.etag in tags or "*" in tags
    if "if-modified-since" in headers and route.last_modified:
        return headers["if-modified-since"] == route.last_modified
    return False


def _send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
          body: bytes) -> None:
    handler.send_response(status)
    lower = {k.lower() for k in headers}
    if "content-type" not in lower and status != 304:
        handler.send_header("Content-Type", "application/octet-stream")
    for name, value in headers.items():
        handler.send_header(name, value)
    if status != 304 and "content-length" not in lower:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 304:
        handler.wfile.write(body)


def _stream(handler: BaseHTTPRequestHandler, route: Route) -> None:
    assert route.stream_size is not None
    handler.send_response(route.status)
    handler.send_header("Content-Type", "application/xml")
    for name, value in route.headers.items():
        handler.send_header(name, value)
    if route.content_length:
        handler.send_header("Content-Length", str(route.stream_size))
    handler.end_headers()
    remaining = route.stream_size
    while remaining > 0:
        n = min(_CHUNK, remaining)
        handler.wfile.write(b"x" * n)
        handler.wfile.flush()
        remaining -= n
        time.sleep(0)  # let the client side run between chunks


def _trickle(handler: BaseHTTPRequestHandler, server: FeedServer, route: Route) -> None:
    handler.send_response(route.status)
    for name, value in route.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(route.body)))
    handler.end_headers()
    handler.wfile.flush()
    if route.reset_after is not None:
        handler.wfile.write(route.body[:route.reset_after])
        handler.wfile.flush()
        _reset(handler)
        return
    for index in range(len(route.body)):
        if server._stopping.is_set():
            return
        handler.wfile.write(route.body[index:index + 1])
        handler.wfile.flush()
        server._sleep(route.drip)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer`, stopped after the test."""
    with FeedServer() as server:
        yield server
