"""Parse stage: feeds written by hand, the synthetic samples and (when present) real feeds."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.arabic_samples import (
    ARTICLES,
    SITE_TITLE,
    WORDPRESS_JUNK,
    WORDPRESS_STORY,
    WORDPRESS_TITLE,
    article_page_html,
    article_url,
    atom_feed,
    rss_with_content_encoded,
    shared_fixtures,
    summary_only_rss,
    wordpress_full_content_rss,
)
from support.feed_server import FeedServer

from bot.cli import main
from bot.errors import ParseError
from bot.fetch import Fetcher, FetchSettings
from bot.models import ParsedFeed
from bot.parse import canonical_url, html_to_text, parse_feed

NOW = datetime(2026, 7, 28, 12, 0, tzinfo=UTC)
BASE = "https://news.example"
FIXTURES = shared_fixtures()
G = '<guid isPermaLink="false">'


def parse(body: bytes, headers: dict[str, str] | None = None, max_entries: int | None = None,
          url: str = BASE + "/feed.xml") -> ParsedFeed:
    return parse_feed(body, headers or {}, url, NOW, max_entries)


def rss(items: str, channel_title: str = "Feed") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{channel_title}</title><link>{BASE}/</link>{items}</channel></rss>").encode()


def test_rss_content_encoded_is_preferred_over_description() -> None:
    feed = parse(rss_with_content_encoded(ARTICLES, BASE))
    assert feed.title == SITE_TITLE
    assert len(feed.entries) == len(ARTICLES)
    by_key = {e.key: e for e in feed.entries}
    for article in ARTICLES:
        entry = by_key[f"nashra-sample-{article.slug}"]
        assert entry.text == article.text  # all paragraphs, blank-line separated
        assert entry.title == article.title
        assert entry.url == article_url(article, BASE)
        assert entry.published == article.published


def test_entries_are_newest_first_and_limited() -> None:
    feed = parse(rss_with_content_encoded(ARTICLES, BASE), max_entries=3)
    newest = sorted(ARTICLES, key=lambda a: a.published, reverse=True)[:3]
    assert [e.title for e in feed.entries] == [a.title for a in newest]
    assert all(e.published.tzinfo is UTC for e in feed.entries)


def test_summary_only_rss_gives_first_paragraph() -> None:
    feed = parse(summary_only_rss(ARTICLES[:2], BASE, link_suffix="?utm_source=rss&id=7"))
    entry = next(e for e in feed.entries if e.title == ARTICLES[0].title)
    assert entry.text == ARTICLES[0].summary
    assert entry.url == article_url(ARTICLES[0], BASE) + "?utm_source=rss&id=7"
    assert entry.canonical_url == article_url(ARTICLES[0], BASE) + "?id=7"


def test_atom_feed() -> None:
    feed = parse(atom_feed(ARTICLES, BASE), {"content-type": "application/atom+xml"})
    assert feed.title == SITE_TITLE
    entry = next(e for e in feed.entries if e.title == ARTICLES[2].title)
    assert entry.key == f"tag:nashra.test,2026:{ARTICLES[2].slug}"
    assert entry.text == ARTICLES[2].text
    assert entry.url == article_url(ARTICLES[2], BASE)
    assert entry.published == ARTICLES[2].published


def test_rss_090_and_rdf_10() -> None:
    rdf = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
           b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>RDF</title>'
           b"</channel><item rdf:about=\"https://news.example/a\"><title>A</title>"
           b"<link>https://news.example/a</link><description>Hello</description></item>"
           b"</rdf:RDF>")
    feed = parse(rdf)
    assert feed.title == "RDF"
    assert [(e.key, e.text) for e in feed.entries] == [("https://news.example/a", "Hello")]


def test_charset_from_headers_is_honoured() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>عنوان</title>'
            "<item><title>خبر</title><link>https://news.example/1</link></item>"
            "</channel></rss>").encode("cp1256")
    feed = parse(body, {"Content-Type": "application/rss+xml; charset=windows-1256"})
    assert feed.title == "عنوان"
    assert feed.entries[0].title == "خبر"


def test_encoding_override_is_not_an_error() -> None:
    body = ('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
            "<title>موجز</title></channel></rss>").encode()
    feed = parse(body, {"Content-Type": "text/xml; charset=utf-8"})
    assert feed.title == "موجز"


def test_html_page_is_not_a_feed() -> None:
    page = article_page_html(ARTICLES[0]).encode()
    with pytest.raises(ParseError) as info:
        parse(page, {"Content-Type": "text/html; charset=utf-8"})
    assert info.value.reason == "not a feed (got an HTML page)"


@pytest.mark.parametrize("body", [b"", b"  \n\t ", b"\xef\xbb\xbf"])
def test_empty_document(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"not a feed \(empty document\)"):
        parse(body)


def test_truncated_xml_is_an_error() -> None:
    full = rss_with_content_encoded(ARTICLES, BASE)
    with pytest.raises(ParseError) as info:
        parse(full[: len(full) // 2])
    assert info.value.reason.startswith("malformed XML: ")
    assert "\n" not in info.value.reason


def test_not_well_formed_xml_is_an_error() -> None:
    body = rss("<item><title>a & b</title><link>https://news.example/x</link></item>")
    with pytest.raises(ParseError, match="malformed XML"):
        parse(body)


def test_xml_that_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse(b'<?xml version="1.0"?><config><item>1</item></config>')
    with pytest.raises(ParseError, match=r"not a feed \(not an XML document\)"):
        parse(b"hello, this is plain text")


def test_undeclared_namespace_prefix_is_tolerated() -> None:
    body = rss("<item><title>t</title><link>https://news.example/m</link>"
               '<media:thumbnail url="https://news.example/i.jpg"/></item>')
    assert parse(body).entries[0].url == "https://news.example/m"


def test_missing_and_future_dates_become_fetch_time() -> None:
    future = (NOW + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    body = rss(
        f"<item>{G}a</guid><title>no date</title></item>"
        f"<item>{G}b</guid><title>future</title><pubDate>{future}</pubDate></item>"
        f"<item>{G}c</guid><title>garbage</title><pubDate>yesterday-ish</pubDate></item>"
        f"<item>{G}d</guid><title>zoned</title>"
        "<pubDate>Tue, 28 Jul 2026 09:39:20 +0300</pubDate></item>"
    )
    dates = {e.key: e.published for e in parse(body).entries}
    assert dates["a"] == NOW and dates["b"] == NOW and dates["c"] == NOW
    assert dates["d"] == datetime(2026, 7, 28, 6, 39, 20, tzinfo=UTC)


def test_naive_fetched_at_is_taken_as_utc() -> None:
    feed = parse_feed(rss(f"<item>{G}a</guid><title>t</title></item>"), {}, BASE,
                      datetime(2026, 1, 1, 8, 0))
    assert feed.entries[0].published == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_titles_are_stripped_of_html_and_whitespace() -> None:
    body = rss(f"<item>{G}a</guid><title>  &lt;b&gt;عاجل&lt;/b&gt;:\n  انخفاض   الأسعار "
               "&amp;amp; الذهب </title></item>", channel_title="  My\n Feed ")
    feed = parse(body)
    assert feed.title == "My Feed"
    assert feed.entries[0].title == "عاجل: انخفاض الأسعار & الذهب"


def test_entry_key_fallbacks() -> None:
    body = rss(
        '<item><guid isPermaLink="false">stable-1</guid><title>guid</title>'
        "<link>https://news.example/g?utm_medium=x</link></item>"
        "<item><title>link only</title><link>https://News.Example:443/l?b=2&amp;a=1#top</link>"
        "</item>"
        "<item><title>nothing</title><pubDate>Mon, 27 Jul 2026 10:00:00 GMT</pubDate></item>"
    )
    keys = {e.title: e.key for e in parse(body).entries}
    assert keys["guid"] == "stable-1"
    assert keys["link only"] == "https://news.example/l?a=1&b=2"
    assert keys["nothing"].startswith("sha1:") and len(keys["nothing"]) == 45
    assert parse(body).entries[-1].key == keys["nothing"]  # stable across parses


def test_shared_and_timestamp_guids_fall_back_to_link() -> None:
    # Like a real WordPress feed: every item has the same id, and GUIDs are ?t=<unix time>.
    body = rss(
        '<item><guid isPermaLink="false">https://news.example/?t=1785158892</guid>'
        "<title>one</title><link>https://news.example/one?traffic_source=rss</link></item>"
        '<item><guid isPermaLink="false">same</guid><title>two</title>'
        "<link>https://news.example/two</link></item>"
        '<item><guid isPermaLink="false">same</guid><title>three</title>'
        "<link>https://news.example/three</link></item>"
        '<item><guid isPermaLink="false">https://news.example/?p=9576310</guid>'
        "<title>four</title><link>https://news.example/four</link></item>"
    )
    keys = {e.title: e.key for e in parse(body).entries}
    assert keys["one"] == "https://news.example/one"
    assert keys["two"] == "https://news.example/two"
    assert keys["three"] == "https://news.example/three"
    assert keys["four"] == "https://news.example/?p=9576310"  # a post id is a real identity


def test_duplicate_items_are_kept_once() -> None:
    item = "<item><guid>dup</guid><title>x</title></item>"
    assert len(parse(rss(item + item)).entries) == 1


def test_relative_links_resolve_against_feed_url() -> None:
    body = rss("<item><title>rel</title><link>/news/1.html?utm_source=x</link></item>")
    entry = parse(body, url="https://news.example/feeds/main.xml").entries[0]
    assert entry.url.startswith("https://news.example/news/1.html")
    assert entry.canonical_url == "https://news.example/news/1.html"


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTPS://News.Example.COM:443/Path?utm_source=rss&utm_medium=feed#frag",
     "https://news.example.com/Path"),
    ("http://news.example:80/a?z=1&traffic_source=rss&a=2", "http://news.example/a?a=2&z=1"),
    ("https://news.example/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&ocid=5&ref=6&cmpid=7"
     "&at_medium=8&at_campaign=9&keep=yes", "https://news.example/a?keep=yes"),
    ("https://news.example:8443/a", "https://news.example:8443/a"),
    ("https://news.example", "https://news.example/"),
    ("https://news.example/%d8%a7?q=%d8%a7", "https://news.example/%D8%A7?q=%D8%A7"),
    ("https://news.example/a?UTM_Source=x&b=", "https://news.example/a?b="),
])
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_canonical_url_resolves_against_base() -> None:
    assert canonical_url("../b?utm_source=x", "https://news.example/a/c/index.html") == \
        "https://news.example/a/b"
    assert canonical_url("tag:news.example,2026:1#x") == "tag:news.example,2026:1"


def test_html_to_text_keeps_paragraphs() -> None:
    html = ("<div><p>الفقرة   الأولى &amp; <b>مهمة</b></p><script>alert(1)</script>"
            "<style>p{}</style><p>الفقرة\n الثانية</p>سطر<br>آخر<!-- comment -->"
            "<ul><li>بند</li></ul></div>")
    assert html_to_text(html) == "الفقرة الأولى & مهمة\n\nالفقرة الثانية\n\nسطر\n\nآخر\n\nبند"
    assert html_to_text("") == ""
    assert html_to_text("plain\n\n text  here") == "plain\n\ntext here"
    assert html_to_text("a &lt; b") == "a < b"


def test_feed_fetched_from_loopback_server(feed_server: FeedServer) -> None:
    body = rss_with_content_encoded(ARTICLES, feed_server.base_url)
    url = feed_server.add("/feed.xml", body,
                          headers={"Content-Type": "application/rss+xml; charset=utf-8"})

    async def go() -> bytes:
        async with Fetcher(FetchSettings(timeout_seconds=2)) as fetcher:
            result = await fetcher.fetch(url)
            return result.body
    feed = parse_feed(asyncio.run(go()), {"content-type": "application/rss+xml"}, url, NOW)
    assert {e.url for e in feed.entries} == {article_url(a, feed_server.base_url)
                                             for a in ARTICLES}


@pytest.mark.skipif(not (FIXTURES / "aljazeera").is_dir(), reason="shared fixtures absent")
def test_real_wordpress_feed() -> None:
    body = (FIXTURES / "aljazeera" / "feed.xml").read_bytes()
    feed = parse_feed(body, {"content-type": "text/html; charset=utf-8"},
                      "https://www.aljazeera.net/rss", NOW)
    assert feed.title == "الجزيرة نت"
    assert len(feed.entries) == 25
    assert len({e.key for e in feed.entries}) == 25
    assert all("traffic_source" not in e.key for e in feed.entries)
    assert all(e.text and e.title for e in feed.entries)


@pytest.mark.skipif(not (FIXTURES / "bbcarabic-podcast").is_dir(),
                    reason="shared fixtures absent")
def test_real_summary_only_podcast_feed() -> None:
    body = (FIXTURES / "bbcarabic-podcast" / "bbcarabic.rss").read_bytes()
    feed = parse_feed(body, {"content-type": "application/rss+xml"},
                      "https://podcasts.example/bbc.rss", NOW, max_entries=10)
    assert len(feed.entries) == 10
    assert feed.entries[0].published >= feed.entries[-1].published
    assert all("\ufeff" not in e.text and "<" not in e.text for e in feed.entries)


# --- content fidelity: feed text gets the boilerplate rules -------------------------------------


def test_wordpress_full_content_item_keeps_story_and_drops_furniture() -> None:
    entry = parse(wordpress_full_content_rss(BASE)).entries[0]
    assert entry.title == WORDPRESS_TITLE
    assert entry.text.split("\n\n") == list(WORDPRESS_STORY)
    for junk in WORDPRESS_JUNK:
        assert junk not in entry.text, junk


def test_html_list_after_related_header_is_dropped_whatever_its_items_end_with() -> None:
    story = "افتتح الوزير المعرض الدولي للكتاب بمشاركة ناشرين من 35 دولة."
    related = "<ul><li><a href='/1'>هل يعود الكتاب الورقي؟</a></li><li>معرض يحطم الأرقام.</li></ul>"
    for header, header_text in (("<h3>اقرأ أيضا</h3>", "اقرأ أيضا"),
                                ("<p><strong>اقرأ أيضاً:</strong></p>", "اقرأ أيضاً:"),
                                ("مواضيع ذات صلة", "مواضيع ذات صلة")):
        text = html_to_text(f"<div><p>{story}</p>{header}{related}<p>{story}</p></div>")
        assert text == f"{story}\n\n{header_text}\n\n{story}"
    # A list that no related header introduces is part of the story.
    steps = "<ul><li>تسجيل الطلب عبر الموقع</li><li>دفع الرسوم.</li></ul>"
    assert html_to_text(f"<p>{story}</p><p>وتشمل الخطوات:</p>{steps}") == \
        f"{story}\n\nوتشمل الخطوات:\n\nتسجيل الطلب عبر الموقع\n\nدفع الرسوم."


def test_description_is_cleaned_and_used_when_content_is_only_furniture() -> None:
    summary = "أعلنت وزارة الصحة عن افتتاح مستشفى جديد في العاصمة يضم مئتي سرير."
    body = rss(f"<item>{G}a</guid><title>t</title>"
               f"<description><![CDATA[<p>{summary}</p><p>تابعونا على واتساب</p>"
               "<p>جميع الحقوق محفوظة</p>]]></description>"
               "<content:encoded><![CDATA[<p>زر الذهاب إلى الأعلى</p><p>© 2026</p>]]>"
               "</content:encoded></item>")
    assert parse(body).entries[0].text == summary


def _raw_and_clean_paragraphs(body: bytes, monkeypatch: pytest.MonkeyPatch
                              ) -> list[tuple[list[str], list[str]]]:
    """Each entry's paragraphs without and with the boilerplate rules."""
    feed = parse(body, max_entries=1000)
    with monkeypatch.context() as patched:
        patched.setattr("bot.parse.strip_boilerplate", lambda text: text)
        raw = parse(body, max_entries=1000)
    by_key = {e.key: e.text for e in raw.entries}
    return [(by_key[e.key].split("\n\n"), e.text.split("\n\n")) for e in feed.entries]


@pytest.mark.skipif(not (FIXTURES / "aljazeera").is_dir(), reason="shared fixtures absent")
def test_real_wordpress_feed_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = _raw_and_clean_paragraphs((FIXTURES / "aljazeera" / "feed.xml").read_bytes(),
                                      monkeypatch)
    assert len(pairs) == 25
    for raw, clean in pairs:
        assert clean == [" ".join(p.split()) for p in raw]


@pytest.mark.skipif(not (FIXTURES / "bbcarabic-podcast").is_dir(),
                    reason="shared fixtures absent")
def test_real_podcast_feed_loses_only_its_share_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (FIXTURES / "bbcarabic-podcast" / "bbcarabic.rss").read_bytes()
    removed: set[str] = set()
    for raw, clean in _raw_and_clean_paragraphs(body, monkeypatch):
        assert clean[0] == raw[0]  # the episode's own summary always opens the text
        removed |= set(raw) - set(clean)
    # "Share your views on our social media accounts": a call to the listener, no news.
    assert removed
    for paragraph in removed:
        assert paragraph.startswith("شاركونا بآرائكم وتعليقاتكم على حساباتنا"), paragraph


def test_fetch_cli_stores_wordpress_story_without_furniture(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path) -> None:
    url = feed_server.add("/wp-feed.xml", wordpress_full_content_rss(feed_server.base_url),
                          headers={"Content-Type": "application/rss+xml; charset=UTF-8"})
    config = tmp_path / "config.toml"
    config.write_text("\n".join([
        "[storage]", f'path = "{tmp_path / "nashra.db"}"',
        "[translation]", f'model = "{argos_package}"', "threads = 1",
        "[fetch]", "timeout_seconds = 2", "min_text_chars = 300",
        "[[feeds]]", f'url = "{url}"', 'name = "wordpress"',
    ]) + "\n", encoding="utf-8")
    runner = CliRunner()
    fetched = runner.invoke(main, ["--config", str(config), "fetch"])
    assert fetched.exit_code == 0, fetched.output
    exported = runner.invoke(main, ["--config", str(config), "export"])
    [article] = [json.loads(line) for line in exported.stdout.splitlines()]
    text = str(article["text_original"])
    assert re.split(r"\n\n", text) == list(WORDPRESS_STORY)
    assert not any(junk in text for junk in WORDPRESS_JUNK)
    # The story was long enough: the page itself (not served here) was never fetched.
    assert feed_server.requests_for("/2026/07/28/satellite-internet/") == []
