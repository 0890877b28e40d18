"""Fetch stage against a real loopback server (and MockTransport where sockets add nothing)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest
from support.feed_server import FeedServer

from bot.errors import FetchError
from bot.fetch import Fetcher, FetchSettings, parse_retry_after
from bot.models import FetchResult

T = TypeVar("T")

FAST = FetchSettings(timeout_seconds=0.5, max_bytes=100_000)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def fetch_once(url: str, settings: FetchSettings = FAST, **kwargs: str) -> FetchResult:
    async with Fetcher(settings) as fetcher:
        return await fetcher.fetch(url, **kwargs)


def fetch_error(url: str, settings: FetchSettings = FAST) -> FetchError:
    with pytest.raises(FetchError) as info:
        run(fetch_once(url, settings))
    return info.value


def mock_fetch(handler: Callable[[httpx.Request], httpx.Response], url: str,
               settings: FetchSettings = FAST) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings, transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.fetch(url)
    return run(go())


def test_200_returns_body_headers_and_validators(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed.xml", RSS, headers={
        "Content-Type": "application/rss+xml; charset=utf-8",
        "ETag": '"v1"', "Last-Modified": "Tue, 28 Jul 2026 09:00:00 GMT", "X-Custom": "Yes"})
    result = run(fetch_once(url))
    assert result.status == 200
    assert result.body == RSS
    assert result.url == url
    assert not result.not_modified
    assert result.etag == '"v1"'
    assert result.last_modified == "Tue, 28 Jul 2026 09:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.headers["x-custom"] == "Yes"
    assert all(key == key.lower() for key in result.headers)
    sent = feed_server.requests_for("/feed.xml")[0].headers
    assert sent["user-agent"] == FetchSettings().user_agent
    assert "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    body = RSS * 50
    url = feed_server.add("/gz.xml", body, gzip=True)
    result = run(fetch_once(url))
    assert result.body == body
    assert "content-encoding" not in result.headers


def test_raw_deflate_body_is_decoded() -> None:
    body = RSS * 20
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = packer.compress(body) + packer.flush()
    result = mock_fetch(lambda r: httpx.Response(200, stream=httpx.ByteStream(raw),
                                                 headers={"Content-Encoding": "deflate"}),
                        "http://feeds.test/x")
    assert result.body == body


def test_conditional_get_sends_validators_and_handles_304(feed_server: FeedServer) -> None:
    lm = "Tue, 28 Jul 2026 09:00:00 GMT"
    url = feed_server.add_conditional("/c.xml", RSS, etag='"abc"', last_modified=lm)
    first = run(fetch_once(url))
    assert first.body == RSS and first.etag == '"abc"' and first.last_modified == lm

    second = run(fetch_once(url, etag='"abc"', last_modified=lm))
    assert second.not_modified
    assert second.status == 304
    assert second.body == b""
    assert second.etag == '"abc"'
    sent = feed_server.requests_for("/c.xml")[1].headers
    assert sent["if-none-match"] == '"abc"'
    assert sent["if-modified-since"] == lm


def test_conditional_get_with_stale_etag_gets_full_body(feed_server: FeedServer) -> None:
    url = feed_server.add_conditional("/c.xml", RSS, etag='"new"')
    result = run(fetch_once(url, etag='"old"'))
    assert not result.not_modified
    assert result.body == RSS and result.etag == '"new"'


def test_304_without_validators_keeps_the_ones_sent() -> None:
    result = run(_mock_304())
    assert result.not_modified
    assert result.etag == '"e1"' and result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"


async def _mock_304() -> FetchResult:
    transport = httpx.MockTransport(lambda r: httpx.Response(304))
    async with Fetcher(FAST, transport=transport) as fetcher:
        return await fetcher.fetch("http://feeds.test/f", etag='"e1"',
                                   last_modified="Mon, 01 Jan 2024 00:00:00 GMT")


@pytest.mark.parametrize(("status", "reason"), [
    (404, "HTTP 404 Not Found"),
    (500, "HTTP 500 Internal Server Error"),
    (403, "HTTP 403 Forbidden"),
])
def test_http_errors(feed_server: FeedServer, status: int, reason: str) -> None:
    url = feed_server.add("/err", b"oops", status=status)
    error = fetch_error(url)
    assert error.reason == reason
    assert error.status == status
    assert str(error) == f"fetch: {reason}"
    assert error.retry_after is None


def test_unknown_path_is_404(feed_server: FeedServer) -> None:
    assert fetch_error(feed_server.url("/nothing-here")).status == 404


def test_timeout(feed_server: FeedServer) -> None:
    url = feed_server.add_delay("/slow", 3)
    started = time.monotonic()
    error = fetch_error(url)
    assert error.reason == "timed out after 0.5s"
    assert error.status is None
    assert time.monotonic() - started < 2.5


def test_body_over_max_bytes_with_content_length(feed_server: FeedServer) -> None:
    url = feed_server.add_large("/big", 300_000, content_length=True)
    assert fetch_error(url).reason == "response larger than 100000 bytes"


def test_body_over_max_bytes_without_content_length(feed_server: FeedServer) -> None:
    url = feed_server.add_large("/big", 5_000_000, content_length=False)
    started = time.monotonic()
    assert fetch_error(url).reason == "response larger than 100000 bytes"
    assert time.monotonic() - started < 2  # aborted early, not after reading 5 MB


def test_body_exactly_max_bytes_is_accepted(feed_server: FeedServer) -> None:
    url = feed_server.add_large("/edge", 100_000, content_length=False)
    assert len(run(fetch_once(url)).body) == 100_000


def test_gzip_bomb_is_capped_while_decompressing(feed_server: FeedServer) -> None:
    bomb = b"\0" * 20_000_000  # compresses to ~20 kB
    url = feed_server.add("/bomb", bomb, gzip=True)
    assert fetch_error(url).reason == "response larger than 100000 bytes"


def test_lying_content_length_header_is_not_trusted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10"},
                              stream=httpx.ByteStream(b"y" * 200_000))
    with pytest.raises(FetchError, match="larger than 100000"):
        mock_fetch(handler, "http://feeds.test/lie")


def test_redirects_are_followed(feed_server: FeedServer) -> None:
    feed_server.add_redirect("/old", "/newer", status=301)
    feed_server.add_redirect("/newer", "/final.xml", status=302)
    feed_server.add("/final.xml", RSS)
    result = run(fetch_once(feed_server.url("/old")))
    assert result.body == RSS
    assert result.url == feed_server.url("/final.xml")


def test_redirect_loop(feed_server: FeedServer) -> None:
    feed_server.add_redirect("/a", "/b")
    feed_server.add_redirect("/b", "/a")
    error = fetch_error(feed_server.url("/a"))
    assert error.reason == "too many redirects"
    assert len(feed_server.requests) == FAST.max_redirects + 1


def test_too_many_redirects_respects_setting(feed_server: FeedServer) -> None:
    for i in range(3):
        feed_server.add_redirect(f"/r{i}", f"/r{i + 1}")
    feed_server.add("/r3", RSS)
    few = FetchSettings(timeout_seconds=2, max_redirects=2)
    assert fetch_error(feed_server.url("/r0"), few).reason == "too many redirects"
    assert run(fetch_once(feed_server.url("/r0"))).body == RSS


def test_retry_after_seconds_on_429(feed_server: FeedServer) -> None:
    url = feed_server.add("/limited", b"slow down", status=429, headers={"Retry-After": "120"})
    error = fetch_error(url)
    assert error.reason == "HTTP 429 Too Many Requests"
    assert error.status == 429
    assert error.retry_after == 120.0


def test_retry_after_http_date_on_503(feed_server: FeedServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=300)
    url = feed_server.add("/down", b"", status=503,
                          headers={"Retry-After": format_datetime(when, usegmt=True)})
    error = fetch_error(url)
    assert error.reason == "HTTP 503 Service Unavailable"
    assert error.retry_after is not None
    assert 290 <= error.retry_after <= 301


def test_parse_retry_after_edge_cases() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert fetch_error(f"http://127.0.0.1:{port}/feed").reason == "connection refused"


def test_connection_reset(feed_server: FeedServer) -> None:
    url = feed_server.add_reset("/rst")
    assert fetch_error(url).reason in {"connection reset",
                                       "protocol error: Server disconnected without "
                                       "sending a response."}


def _raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


def test_unresolvable_host_is_reported_by_name() -> None:
    cause = socket.gaierror(-2, "Name or service not known")
    exc = httpx.ConnectError("[Errno -2] Name or service not known")
    exc.__cause__ = cause
    with pytest.raises(FetchError) as info:
        mock_fetch(_raising(exc), "http://example.invalid/feed")
    assert info.value.reason == "cannot resolve host example.invalid"


def test_tls_error_is_reported() -> None:
    exc = httpx.ConnectError("certificate verify failed")
    exc.__cause__ = ssl.SSLCertVerificationError(1, "certificate verify failed: "
                                                    "self-signed certificate")
    with pytest.raises(FetchError) as info:
        mock_fetch(_raising(exc), "https://feeds.test/feed")
    assert info.value.reason.startswith("TLS error: ")
    assert "\n" not in info.value.reason


def test_tls_handshake_against_plain_http_server(feed_server: FeedServer) -> None:
    feed_server.add("/feed", RSS)
    error = fetch_error(f"https://127.0.0.1:{feed_server.port}/feed")
    assert error.reason.startswith("TLS error: ")


def test_invalid_url_is_a_fetch_error() -> None:
    assert fetch_error("ftp://feeds.test/feed").reason == "invalid URL ftp://feeds.test/feed"


def test_per_host_limit(feed_server: FeedServer) -> None:
    feed_server.add_delay("/slow", 0.3, body=RSS)
    settings = FetchSettings(timeout_seconds=5, concurrency=8, per_host=2)

    async def go() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(feed_server.url(f"/slow?i={i}"))
                                          for i in range(6)))

    results = run(go())
    assert [r.body for r in results] == [RSS] * 6
    assert feed_server.max_in_flight == 2


def test_global_limit_across_hosts() -> None:
    active = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return httpx.Response(200, stream=httpx.ByteStream(b"ok"))

    settings = FetchSettings(timeout_seconds=5, concurrency=3, per_host=2)

    async def go() -> None:
        async with Fetcher(settings, transport=httpx.MockTransport(handler)) as fetcher:
            await asyncio.gather(*(fetcher.fetch(f"http://host{i}.test/") for i in range(9)))

    run(go())
    assert peak == 3


def test_gzip_module_sanity() -> None:
    # The server's gzip route relies on the stdlib round trip; keep it honest.
    assert gzip.decompress(gzip.compress(RSS)) == RSS
