"""Hostile or broken feed documents: entity tricks never expand nor read files or the network,
broken XML is that feed's error, odd items are stored cleanly (or not at all), and the good
feed fetched in the same run loses nothing.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from support.arabic_samples import ARTICLES
from support.feed_server import FeedServer

import bot.parse
from bot.parse import parse_feed

MAX_ENTRIES = 20
TEXT = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في العاصمة يضم مئتي سرير."
SPOOF = "\u202e\u2066\u200f\u202a"  # RLO, LRI, RLM, LRE
LAUGHS = "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))


def rss(items: str, *, doctype: str = "", encoding: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>{doctype}<rss version="2.0">'
            f"<channel><title>t</title><link>http://news.test/</link>{items}</channel></rss>")


def item(guid: str, title: str, link: str, *, date: str = "Mon, 27 Jul 2026 10:00:00 GMT",
         text: str = TEXT) -> str:
    link_element = f"<link>{link}</link>" if link else ""
    return (f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
            f"{link_element}<pubDate>{date}</pubDate><description>{text}</description></item>")


@dataclass
class Scenario:
    run: Run
    config: Path
    server: FeedServer
    secret: str
    fetched_after: datetime

    def stored(self, feed: str) -> list[dict[str, object]]:
        return [a for a in export(self.config) if a["feed"] == feed]


def _entity_feeds(server: FeedServer, secret_file: Path) -> dict[str, str]:
    probe = server.url("/xxe-probe")
    external = (f'<!DOCTYPE rss [<!ENTITY file SYSTEM "file://{secret_file}">'
                f'<!ENTITY net SYSTEM "{probe}">]>')
    parameter = f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{probe}-dtd"> %remote;]>'
    laughs = f'<!DOCTYPE rss [<!ENTITY lol0 "lol">{LAUGHS}]>'
    link = server.url("/articles/e.html")
    return {
        "billion laughs": server.add("/laughs.xml", rss(
            item("l", "ضحك &lol9;", link), doctype=laughs).encode(), headers=RSS_TYPE),
        "external entity": server.add("/xxe.xml", rss(
            item("x", "سر &file; &net;", link), doctype=external).encode(), headers=RSS_TYPE),
        "parameter entity": server.add("/pe.xml", rss(
            item("p", "عنوان", link), doctype=parameter).encode(), headers=RSS_TYPE),
    }


def _broken_feeds(server: FeedServer) -> dict[str, str]:
    whole = rss(item("t", "عنوان", server.url("/t"))).encode()
    return {
        "truncated": server.add("/truncated.xml", whole[: len(whole) // 2], headers=RSS_TYPE),
        "invalid": server.add("/invalid.xml", whole.replace(b"</title>", b"</titel>"),
                              headers=RSS_TYPE),
    }


def _charset_feeds(server: FeedServer) -> dict[str, str]:
    def doc(name: str, encoding: str) -> str:
        return rss(item(name, ARTICLES[4].title, server.url(f"/{name}")), encoding=encoding)
    return {
        # UTF-8 bytes served as ISO-8859-1; windows-1256 bytes claiming UTF-8; undeclared.
        "latin1 label": server.add("/l1.xml", doc("l1", "iso-8859-1").encode("utf-8"),
                                   headers={"Content-Type": "application/rss+xml; "
                                                            "charset=iso-8859-1"}),
        "utf8 label": server.add("/u8.xml", doc("u8", "utf-8").encode("cp1256"),
                                 headers=RSS_TYPE),
        "no label": server.add("/none.xml", doc("none", "utf-8").encode("cp1256")
                               .replace(b' encoding="utf-8"', b""),
                               headers={"Content-Type": "application/xml"}),
    }


def _odd_items_feed(server: FeedServer) -> str:
    base = server.url("/odd")
    future = (datetime.now(UTC) + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    huge = " ".join(["كلمة"] * 3000)
    items = "".join([
        item("no-title", "", f"{base}/no-title"),
        item("no-link", "بلا رابط", ""),
        item("js-link", "رابط خبيث", "javascript:alert(1)"),
        item("dup", "نسخة أولى", f"{base}/dup"),
        item("dup", "نسخة ثانية", f"{base}/dup"),
        item("future", "من المستقبل", f"{base}/future", date=future),
        item("epoch", "من عام 1970", f"{base}/epoch", date="Thu, 01 Jan 1970 00:00:00 GMT"),
        item("huge", huge, f"{base}/huge"),
        item("html", "&lt;b&gt;عاجل&lt;/b&gt;: &lt;script&gt;x()&lt;/script&gt;انفجار",
             f"{base}/html"),
        item("spoof", f"عنوان{SPOOF}\u009b\u0085مقلوب", f"{base}/spoof",
             text=f"نص{SPOOF} &amp;#27;[31mأحمر&amp;#7; \u0085عادي"),
    ])
    return server.add("/odd.xml", rss(items).encode(), headers=RSS_TYPE)


def _many_items_feed(server: FeedServer, count: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Dates shuffled through the document, so "newest" is not simply "first".
    stamps = [start + timedelta(minutes=(i * 7919) % count) for i in range(count)]
    items = "".join(
        item(f"n{i}", f"خبر رقم {i}", server.url(f"/many/{i}"),
             date=stamp.strftime("%a, %d %b %Y %H:%M:%S GMT"))
        for i, stamp in enumerate(stamps))
    return server.add("/many.xml", rss(items).encode(), headers=RSS_TYPE)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, argos_package: Path
             ) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("hostile-documents")
    secret = "TOP-SECRET-MARKER-41"
    secret_file = folder / "secret.txt"
    secret_file.write_text(secret)
    with FeedServer() as server:
        feeds = {"good": serve_good_feed(server), **_entity_feeds(server, secret_file),
                 **_broken_feeds(server), **_charset_feeds(server),
                 "odd items": _odd_items_feed(server),
                 "ten thousand": _many_items_feed(server, 10_000)}
        config = write_config(folder, argos_package, feeds,
                              {"max_entries": MAX_ENTRIES, "max_bytes": 5_000_000,
                               "timeout_seconds": 10})
        before = datetime.now(UTC).replace(microsecond=0)
        yield Scenario(nashra(config, "fetch"), config, server, secret, before)


def test_good_feed_unaffected(scenario: Scenario) -> None:
    assert_good_feed_intact(scenario.run, scenario.config)


def test_entity_expansion_is_that_feeds_error(scenario: Scenario) -> None:
    reason = scenario.run.reason("billion laughs")
    assert reason.startswith("parse: malformed XML"), reason
    assert "lollollol" not in scenario.run.result.output + str(export(scenario.config))
    assert not scenario.stored("billion laughs")


@pytest.mark.parametrize("feed", ["external entity", "parameter entity"])
def test_external_entities_never_reach_disk_or_network(scenario: Scenario, feed: str) -> None:
    # The DTD is dropped unread: the feed either fails on the now undefined reference or is
    # stored with the reference left as text; either way nothing outside the document is read.
    assert not [r for r in scenario.server.requests if r.path.startswith("/xxe-probe")]
    assert scenario.secret not in scenario.run.result.output + str(export(scenario.config))
    if scenario.run.progress(feed).startswith("✗ "):
        assert scenario.run.reason(feed).startswith("parse: malformed XML")


@pytest.mark.parametrize("feed", ["truncated", "invalid"])
def test_broken_xml_is_that_feeds_error(scenario: Scenario, feed: str) -> None:
    assert scenario.run.reason(feed).startswith("parse: malformed XML: line ")
    assert not scenario.stored(feed)


@pytest.mark.parametrize("feed", ["latin1 label", "utf8 label", "no label"])
def test_wrong_or_missing_charset_still_reads_arabic(scenario: Scenario, feed: str) -> None:
    stored = scenario.stored(feed)
    assert [a["title_original"] for a in stored] == [ARTICLES[4].title]
    assert stored[0]["text_original"] == TEXT


def _odd(scenario: Scenario) -> dict[str, dict[str, object]]:
    return {str(a["url"]).rsplit("/", 1)[-1]: a for a in scenario.stored("odd items")}


def test_items_without_title_or_link(scenario: Scenario) -> None:
    odd = _odd(scenario)
    assert odd["no-title"]["title_original"] == TEXT  # the text stands in for the headline
    assert all(str(a["url"]).startswith("http://") for a in odd.values())
    titles = {a["title_original"] for a in odd.values()}
    assert "بلا رابط" not in titles and "رابط خبيث" not in titles  # nothing a reader can open
    assert scenario.run.progress("odd items").startswith("✓ ")


def test_duplicate_guids_are_stored_once(scenario: Scenario) -> None:
    dups = [a for a in scenario.stored("odd items") if str(a["url"]).endswith("/dup")]
    assert [a["title_original"] for a in dups] == ["نسخة أولى"]


def test_dates_in_the_future_or_1970_become_fetch_time(scenario: Scenario) -> None:
    odd = _odd(scenario)
    after = datetime.now(UTC)
    for name in ("future", "epoch"):
        published = datetime.fromisoformat(str(odd[name]["published"]))
        assert scenario.fetched_after <= published <= after, (name, published)


def test_enormous_and_html_titles_are_one_clean_line(scenario: Scenario) -> None:
    odd = _odd(scenario)
    huge = str(odd["huge"]["title_original"])
    assert len(huge) <= 300 and huge.endswith("كلمة…")
    html = str(odd["html"]["title_original"])
    assert html == "عاجل: انفجار"
    assert all("<" not in str(a["title_original"]) for a in odd.values())


def test_control_and_bidi_override_characters_are_stripped(scenario: Scenario) -> None:
    spoof = _odd(scenario)["spoof"]
    controls = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - {"\n", "\t"}
    overrides = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    title, text = str(spoof["title_original"]), str(spoof["text_original"])
    # A headline also loses its directional marks; body text may keep them.
    assert not (controls | overrides | {"\u200e", "\u200f"}) & set(title), repr(title)
    assert title.startswith("عنوان") and title.endswith("مقلوب")
    assert all(word in text for word in ("نص", "أحمر", "عادي"))
    for value in (text, spoof["title_translated"], spoof["text_translated"]):
        assert not (controls | overrides) & set(str(value)), repr(value)


def test_ten_thousand_items_only_the_newest_are_processed(scenario: Scenario) -> None:
    stored = scenario.stored("ten thousand")
    newest = {f"خبر رقم {i}" for i in range(10_000) if (i * 7919) % 10_000 >= 10_000 - MAX_ENTRIES}
    assert {a["title_original"] for a in stored} == newest
    assert len(stored) == MAX_ENTRIES


def test_ten_thousand_items_parse_fast_in_bounded_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    body = rss("".join(item(f"n{i}", f"خبر {i}", f"http://news.test/{i}")
                       for i in range(10_000))).encode()
    seen: list[int] = []
    real_parse = bot.parse.feedparser.parse

    def counting_parse(document: bytes, **kwargs: object) -> object:
        seen.append(document.count(b"<item"))
        return real_parse(document, **kwargs)

    # feedparser needs ~2 ms an item (~17 s for all 10,000): it must see only the newest
    # few, which is what keeps this fast. Counted, not timed: CI machines are loaded.
    monkeypatch.setattr(bot.parse.feedparser, "parse", counting_parse)
    tracemalloc.start()
    try:
        feed = parse_feed(body, RSS_TYPE, "http://news.test/feed.xml", datetime.now(UTC), 50)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(feed.entries) == 50
    assert len(seen) == 1 and seen[0] <= 50 * 4, seen
    assert peak < 10 * len(body), f"peak {peak / 1e6:.1f} MB"


def test_changing_guids_with_a_stable_link_are_stored_once(feed_server: FeedServer,
                                                           argos_package: Path,
                                                           tmp_path: Path) -> None:
    link = feed_server.url("/story")

    def serve(guid: str) -> str:
        return feed_server.add("/volatile.xml", rss(item(guid, "خبر متجدد", link)).encode(),
                               headers=RSS_TYPE)

    feeds = {"good": serve_good_feed(feed_server), "volatile": serve("first-guid")}
    config = write_config(tmp_path, argos_package, feeds)
    assert_good_feed_intact(nashra(config, "fetch"), config)
    serve("second-guid")
    second = nashra(config, "fetch", "--force")
    assert second.progress("volatile").startswith("✓ ")
    stored = [a for a in export(config) if a["feed"] == "volatile"]
    assert len(stored) == 1
    assert len(export(config)) == 3
