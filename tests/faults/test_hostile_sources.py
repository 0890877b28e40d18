"""Hostile or broken HTTP responses: each ends as that feed's one-line error, the run completes,
memory stays bounded, and the good feed fetched in the same run loses nothing.

All hostile feeds are fetched in one `nashra fetch` beside a good feed (module fixture), so
the run also proves they cannot disturb each other; each case then has its own test.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_kit import (
    RSS_TYPE,
    Run,
    assert_good_feed_intact,
    export,
    nashra,
    serve_good_feed,
    write_config,
)
from support.arabic_samples import ARTICLES, rss_with_content_encoded
from support.feed_server import FeedServer

from bot.errors import FetchError
from bot.fetch import Fetcher, FetchSettings

MAX_BYTES = 200_000
TIMEOUT = 2
ERROR_PAGE = (b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"
              b"<body><h1>Service Unavailable</h1><p>Try again later.</p></body></html>")


@dataclass
class Scenario:
    run: Run
    config: Path
    server: FeedServer
    tls: bool


def _self_signed_context(folder: Path) -> ssl.SSLContext | None:
    """A server context with a fresh self-signed certificate for 127.0.0.1, or None."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=False, timeout=60)
    if made.returncode != 0:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _hostile_feeds(server: FeedServer) -> dict[str, str]:
    feed = rss_with_content_encoded(ARTICLES[2:4], server.base_url)
    server.add_redirect("/loop-a.xml", "/loop-b.xml")
    server.add_redirect("/loop-b.xml", "/loop-a.xml")
    return {
        "drip": server.add_drip("/drip.xml", feed[:400], interval=1.0),
        "huge declared": server.add_large("/huge-cl.xml", 1_000_000, content_length=True),
        "huge streamed": server.add_large("/huge.xml", 50_000_000, content_length=False),
        "gzip bomb": server.add("/bomb.xml", b"\0" * 30_000_000, gzip=True, headers=RSS_TYPE),
        "redirect loop": server.url("/loop-a.xml"),
        "to file": server.add_redirect("/to-file.xml", "file:///etc/passwd"),
        "to ftp": server.add_redirect("/to-ftp.xml", "ftp://127.0.0.1/feed.xml"),
        "to data": server.add_redirect("/to-data.xml",
                                       "data:application/rss+xml,%3Crss%20version%3D%222.0%22/%3E"),
        "reset": server.add_reset_mid_body("/reset.xml", feed, after=len(feed) // 3),
        "empty": server.add("/empty.xml", b"", headers=RSS_TYPE),
        "error page": server.add("/error-page.xml", ERROR_PAGE,
                                 headers={"Content-Type": "text/html; charset=utf-8"}),
    }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, argos_package: Path
             ) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("hostile-sources")
    context = _self_signed_context(folder)
    with FeedServer() as server, FeedServer(ssl_context=context) as tls_server:
        feeds = {"good": serve_good_feed(server), **_hostile_feeds(server)}
        if context is not None:
            feeds["self-signed"] = tls_server.add("/feed.xml", b"<rss/>", headers=RSS_TYPE)
        config = write_config(folder, argos_package, feeds,
                              {"timeout_seconds": TIMEOUT, "max_bytes": MAX_BYTES})
        yield Scenario(nashra(config, "fetch"), config, server, context is not None)


def _assert_failed_alone(scenario: Scenario, feed: str) -> str:
    """The feed failed with a reason, counted in its row; nothing stored for it."""
    reason = scenario.run.reason(feed)
    assert " 1 " in scenario.run.row(feed)  # the Errors column
    assert not [a for a in export(scenario.config) if a["feed"] == feed]
    return reason


def test_good_feed_unaffected_and_run_bounded_in_time(scenario: Scenario) -> None:
    assert_good_feed_intact(scenario.run, scenario.config)
    # The drip alone would take ~400 s; the whole request is cut at the timeout.
    assert scenario.run.seconds < 60


def test_slow_drip_is_cut_by_the_total_timeout(scenario: Scenario) -> None:
    assert _assert_failed_alone(scenario, "drip") == f"fetch: timed out after {TIMEOUT}s"
    assert len(scenario.server.requests_for("/drip.xml")) == 1


@pytest.mark.parametrize("feed", ["huge declared", "huge streamed", "gzip bomb"])
def test_oversized_bodies_are_refused(scenario: Scenario, feed: str) -> None:
    reason = _assert_failed_alone(scenario, feed)
    assert reason == f"fetch: response larger than {MAX_BYTES} bytes"


def test_redirect_loop(scenario: Scenario) -> None:
    assert _assert_failed_alone(scenario, "redirect loop") == "fetch: too many redirects"
    hops = scenario.server.requests_for("/loop-a.xml") + scenario.server.requests_for(
        "/loop-b.xml")
    assert len(hops) == FetchSettings().max_redirects + 1


@pytest.mark.parametrize(("feed", "scheme"), [("to file", "file"), ("to ftp", "ftp"),
                                              ("to data", "data")])
def test_redirect_to_another_scheme_is_refused(scenario: Scenario, feed: str,
                                               scheme: str) -> None:
    reason = _assert_failed_alone(scenario, feed)
    # httpx itself chokes on a host-less data: Location before Nashra sees the scheme.
    assert reason in {f"fetch: refused: redirect to a non-HTTP URL ({scheme}:)",
                      "fetch: refused: redirect to an invalid or non-HTTP URL"}


def test_tls_error_is_reported(scenario: Scenario) -> None:
    if not scenario.tls:
        pytest.skip("no openssl binary to make a self-signed certificate")
    reason = _assert_failed_alone(scenario, "self-signed")
    assert reason.startswith("fetch: TLS error: certificate verify failed"), reason


def test_connection_reset_mid_body(scenario: Scenario) -> None:
    reason = _assert_failed_alone(scenario, "reset")
    assert reason in {"fetch: connection reset",
                      "fetch: connection closed before the whole body arrived"}


def test_empty_200(scenario: Scenario) -> None:
    assert _assert_failed_alone(scenario, "empty") == "parse: not a feed (empty document)"


def test_200_with_an_html_error_page(scenario: Scenario) -> None:
    reason = _assert_failed_alone(scenario, "error page")
    assert reason == "parse: not a feed (got an HTML page)"


# -- memory: the caps hold while reading, not after ---------------------------------------------

@pytest.mark.parametrize("kind", ["streamed", "gzip bomb"])
def test_oversized_bodies_never_sit_in_memory(feed_server: FeedServer, kind: str) -> None:
    if kind == "streamed":
        url = feed_server.add_large("/big", 30_000_000, content_length=False)
    else:
        url = feed_server.add("/bomb", b"\0" * 30_000_000, gzip=True)
    settings = FetchSettings(timeout_seconds=10, max_bytes=MAX_BYTES)

    async def go() -> None:
        async with Fetcher(settings) as fetcher:
            await fetcher.fetch(url)

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="larger than"):
            asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MAX_BYTES, f"peak {peak / 1e6:.1f} MB for a {MAX_BYTES} byte cap"


# -- a feed that moved for good --------------------------------------------------------------

def test_permanent_redirect_is_followed_and_remembered(feed_server: FeedServer,
                                                       argos_package: Path,
                                                       tmp_path: Path) -> None:
    server = feed_server
    server.add_redirect("/old.xml", "/new.xml", status=301)
    server.add("/new.xml", rss_with_content_encoded(ARTICLES[2:3], server.base_url),
               headers=RSS_TYPE)
    server.add_redirect("/elsewhere.xml", "/today.xml", status=302)
    server.add("/today.xml", rss_with_content_encoded(ARTICLES[3:4], server.base_url),
               headers=RSS_TYPE)
    feeds = {"good": serve_good_feed(server), "moved": server.url("/old.xml"),
             "temporary": server.url("/elsewhere.xml")}
    config = write_config(tmp_path, argos_package, feeds)

    first = nashra(config, "fetch")
    assert_good_feed_intact(first, config)
    stored = {a["title_original"]: a["feed"] for a in export(config)}
    assert stored[ARTICLES[2].title] == "moved" and stored[ARTICLES[3].title] == "temporary"

    second = nashra(config, "fetch", "--force")
    assert second.progress("moved").startswith("✓ ")
    assert len(server.requests_for("/old.xml")) == 1  # straight to the new address
    assert len(server.requests_for("/new.xml")) == 2
    assert len(server.requests_for("/elsewhere.xml")) == 2  # a 302 is not remembered
    listing = nashra(config, "feeds", "list").result.stdout
    assert server.url("/old.xml") in listing  # the configured URL stays the identity
    assert len(export(config)) == 4  # nothing stored twice
