"""Server-side request forgery: feeds added from the chat (origin "user") and their article
pages never reach private, loopback, link-local, CGNAT, multicast or metadata addresses —
directly, after DNS resolution or after a redirect — while the operator's config feeds may.

"Public" hosts are simulated with an injected resolver and httpx.MockTransport: no test sends
a packet to a non-loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hostile_kit import RSS_TYPE, assert_good_feed_intact, export, nashra, serve_good_feed
from hostile_kit import write_config as _write_config
from support.arabic_samples import ARTICLES, rss_with_content_encoded, summary_only_rss
from support.feed_server import FeedServer

from bot.cli import ensure_model
from bot.config import load_settings
from bot.errors import FetchError
from bot.fetch import Fetcher, FetchSettings
from bot.models import FetchResult
from bot.netguard import refusal_reason
from bot.pipeline import RefreshReport, refresh
from bot.store import Store
from bot.translate import EngineSettings, Translator

PUBLIC_IP = "93.184.216.34"
SETTINGS = FetchSettings(timeout_seconds=5)


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "a private or loopback address"),
    ("10.1.2.3", "a private or loopback address"),
    ("172.16.0.1", "a private or loopback address"),
    ("192.168.1.1", "a private or loopback address"),
    ("169.254.169.254", "a cloud metadata address"),
    ("169.254.1.1", "a link-local address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("240.0.0.1", "a private or loopback address"),
    ("::1", "a private or loopback address"),
    ("::", "an unspecified address"),
    ("fe80::1", "a link-local address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("fc00::5", "a private or loopback address"),
    ("ff02::1", "a multicast address"),
    ("::ffff:127.0.0.1", "a private or loopback address"),
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("64:ff9b::a00:1", "a private or loopback address"),
    ("2002:7f00:1::1", "a private or loopback address"),
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    (PUBLIC_IP, None),
])
def test_address_classification(address: str, kind: str | None) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == kind


def resolver_for(table: dict[str, list[str]], calls: list[str] | None = None
                 ) -> Callable[[str, int], object]:
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]
    return resolve


def guarded_fetch(url: str, handler: Callable[[httpx.Request], httpx.Response],
                  table: dict[str, list[str]], calls: list[str] | None = None) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(SETTINGS, transport=httpx.MockTransport(handler),
                           resolver=resolver_for(table, calls)) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(url, public_only=True)
    return asyncio.run(go())


def recording(responses: dict[str, httpx.Response]
              ) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        canned = responses.get(request.headers["host"] + request.url.path)
        if canned is None:
            return httpx.Response(404)
        # A fresh, unread stream for each request (the fetcher reads the raw stream).
        return httpx.Response(canned.status_code, headers=canned.headers,
                              stream=httpx.ByteStream(canned.content))
    return seen, handler


def test_loopback_literal_is_refused_before_any_request(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed.xml", b"<rss/>")

    async def go() -> None:
        async with Fetcher(SETTINGS) as fetcher:
            await fetcher.fetch(url, public_only=True)

    with pytest.raises(FetchError) as info:
        asyncio.run(go())
    assert str(info.value) == "fetch: refused: 127.0.0.1 is a private or loopback address"
    assert feed_server.requests == []


@pytest.mark.parametrize(("url", "table", "reason"), [
    ("http://feeds.example/rss", {"feeds.example": ["127.0.0.1"]},
     "refused: 127.0.0.1 is a private or loopback address"),
    ("http://feeds.example/rss", {"feeds.example": [PUBLIC_IP, "10.0.0.7"]},
     "refused: 10.0.0.7 is a private or loopback address"),
    ("http://meta.example/latest", {"meta.example": ["169.254.169.254"]},
     "refused: 169.254.169.254 is a cloud metadata address"),
    ("http://v6.example/", {"v6.example": ["fd00:ec2::254"]},
     "refused: fd00:ec2::254 is a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", {},
     "refused: metadata.google.internal is a local or metadata host name"),
    ("http://[::ffff:7f00:1]:8080/", {},
     "refused: ::ffff:7f00:1 is a private or loopback address"),
])
def test_private_after_resolution_is_refused(url: str, table: dict[str, list[str]],
                                             reason: str) -> None:
    seen, handler = recording({})
    with pytest.raises(FetchError) as info:
        guarded_fetch(url, handler, table)
    assert info.value.reason == reason
    assert seen == []  # nothing was sent anywhere


@pytest.mark.parametrize(("location", "table", "reason"), [
    ("http://127.0.0.1:8080/admin", {}, "refused: 127.0.0.1 is a private or loopback address"),
    ("http://169.254.169.254/latest/meta-data/", {},
     "refused: 169.254.169.254 is a cloud metadata address"),
    ("http://internal.example/", {"internal.example": ["192.168.0.10"]},
     "refused: 192.168.0.10 is a private or loopback address"),
    ("http://metadata.google.internal/", {},
     "refused: metadata.google.internal is a local or metadata host name"),
])
def test_redirect_to_private_is_refused(location: str, table: dict[str, list[str]],
                                        reason: str) -> None:
    seen, handler = recording({
        "feeds.example/rss": httpx.Response(302, headers={"Location": location})})
    with pytest.raises(FetchError) as info:
        guarded_fetch("http://feeds.example/rss", handler,
                      {"feeds.example": [PUBLIC_IP], **table})
    assert info.value.reason == reason
    assert [r.url.host for r in seen] == [PUBLIC_IP]  # only the public first hop was sent


def test_connection_goes_to_the_checked_address() -> None:
    # DNS rebinding: a second lookup could answer 127.0.0.1; the request is pinned to the
    # address that was checked and carries the name in its Host header.
    calls: list[str] = []
    seen, handler = recording({"feeds.example/rss": httpx.Response(200, content=b"<rss/>")})
    result = guarded_fetch("http://feeds.example/rss", handler,
                           {"feeds.example": [PUBLIC_IP]}, calls)
    assert result.body == b"<rss/>"
    assert result.url == "http://feeds.example/rss"
    assert calls == ["feeds.example"]
    assert seen[0].url.host == PUBLIC_IP and seen[0].headers["host"] == "feeds.example"


def test_https_keeps_the_name_for_certificate_checks() -> None:
    seen, handler = recording({"feeds.example/rss": httpx.Response(200, content=b"<rss/>")})
    guarded_fetch("https://feeds.example/rss", handler, {"feeds.example": [PUBLIC_IP]})
    assert seen[0].extensions["sni_hostname"] == "feeds.example"


# -- through the pipeline ----------------------------------------------------------------------

def _add_user_feed(config: Path, url: str, name: str) -> None:
    settings = load_settings(str(config))
    with Store(settings.database_path) as store:
        store.add_user_feed(url, name, datetime.now(UTC))


@pytest.mark.parametrize("allow_private", [False, True])
def test_user_feed_on_loopback_is_refused_config_feeds_are_not(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        allow_private: bool) -> None:
    server = feed_server
    user_url = server.add("/user.xml", rss_with_content_encoded(ARTICLES[2:3], server.base_url),
                          headers=RSS_TYPE)
    config = _write_config(tmp_path, argos_package, {"good": serve_good_feed(server)},
                           {"allow_private": allow_private})
    _add_user_feed(config, user_url, "from chat")
    run = nashra(config, "fetch")
    assert_good_feed_intact(run, config)  # the operator's loopback feed is fetched
    user_articles = [a for a in export(config) if a["feed"] == "from chat"]
    if allow_private:
        assert run.progress("from chat").startswith("✓ ")
        assert len(user_articles) == 1
    else:
        assert run.reason("from chat") == (
            "fetch: refused: 127.0.0.1 is a private or loopback address")
        assert server.requests_for("/user.xml") == []
        assert user_articles == []
        listing = nashra(config, "feeds", "list").result.stdout
        assert "refused: 127.0.0.1" in listing


def test_user_feed_pages_obey_the_same_rule(argos_package: Path, tmp_path: Path) -> None:
    """A public user feed whose items point at 127.0.0.1: the pages are not fetched, the
    summaries are kept; a config feed with the same links does fetch its pages."""
    inside = "http://127.0.0.1:8080"
    feed = summary_only_rss(ARTICLES[2:4], inside)
    seen, handler = recording({
        "public.example/feed.xml": httpx.Response(200, content=feed, headers=RSS_TYPE),
        "operator.example/feed.xml": httpx.Response(200, content=feed, headers=RSS_TYPE),
    })
    config = _write_config(tmp_path, argos_package,
                           {"operator": "http://operator.example/feed.xml"},
                           {"min_text_chars": 10_000})
    _add_user_feed(config, "http://public.example/feed.xml", "user")
    resolver = resolver_for({"public.example": [PUBLIC_IP]})
    report = _refresh(config, httpx.MockTransport(handler), resolver)
    by_name = {f.name: f for f in report.feeds}
    assert by_name["user"].error is None and by_name["operator"].error is None
    assert by_name["user"].extract_failures == 2  # refused, summaries kept
    page_requests = [r for r in seen if r.url.host == "127.0.0.1"]
    assert len(page_requests) == 2  # the operator's two pages only
    assert report.new_articles == 2  # the same stories through two feeds, stored once


def _refresh(config: Path, transport: httpx.AsyncBaseTransport,
             resolver: object) -> RefreshReport:
    settings = load_settings(str(config))
    model = ensure_model(settings)
    with Store(settings.database_path) as store:
        translator = Translator(model, EngineSettings(threads=1), store)

        async def go() -> RefreshReport:
            async with Fetcher(SETTINGS, transport=transport,
                               resolver=resolver) as fetcher:  # type: ignore[arg-type]
                return await refresh(settings, store, fetcher, translator)
        try:
            return asyncio.run(go())
        finally:
            translator.close()
