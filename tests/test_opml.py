"""OPML in and out: files in the shapes other readers export, bad files, the store's import
(both engines) and `nashra feeds import/export`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import FeedConfig
from bot.opml import (
    OpmlError,
    OpmlFeed,
    export_opml,
    normalize_url,
    parse_opml,
    plan_import,
)
from bot.store import Store

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# Feedly: OPML 1.0, folders with text and title, feeds with type="rss" and htmlUrl.
FEEDLY = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Huda subscriptions in feedly Cloud</title></head>
  <body>
    <outline text="أخبار" title="أخبار">
      <outline type="rss" text="الجزيرة نت" title="الجزيرة نت"
               xmlUrl="https://www.aljazeera.net/aljazeerarss/a7c186be-1baa-4bd4-9d80-a84db769f779/73d0e1b4-532f-45ef-b135-bfdff8b8cab9"
               htmlUrl="https://www.aljazeera.net"/>
      <outline type="rss" text="العربية - الخليج" title="العربية - الخليج"
               xmlUrl="https://www.alarabiya.net/feed/rss2/ar/gulf.xml"
               htmlUrl="https://www.alarabiya.net"/>
    </outline>
    <outline text="Tech" title="Tech">
      <outline type="rss" text="عالم التقنية" title="عالم التقنية"
               xmlUrl="https://www.tech-wd.com/wd/feed/" htmlUrl="https://www.tech-wd.com"/>
    </outline>
  </body>
</opml>
"""

# Inoreader: nested folders (a folder inside a folder), a feed at the top level.
INOREADER = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions of Karim from Inoreader [https://www.inoreader.com]</title></head>
  <body>
    <outline text="News" title="News">
      <outline text="Gulf" title="Gulf">
        <outline text="وكالة الأنباء الكويتية" title="وكالة الأنباء الكويتية" type="rss"
                 xmlUrl="https://www.kuna.net.kw/rss/ar.xml" htmlUrl="https://www.kuna.net.kw"/>
      </outline>
      <outline text="Levant" title="Levant">
        <outline text="عنب بلدي" title="عنب بلدي" type="rss"
                 xmlUrl="https://www.enabbaladi.net/feed" htmlUrl="https://www.enabbaladi.net"/>
      </outline>
    </outline>
    <outline text="BBC Arabic" title="BBC Arabic" type="rss"
             xmlUrl="https://feeds.bbci.co.uk/arabic/rss.xml" htmlUrl="https://www.bbc.com/arabic"/>
  </body>
</opml>
"""

# Miniflux: OPML 2.0, one level of categories, feeds with title and text.
MINIFLUX = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>Miniflux</title>
    <dateCreated>Sun, 01 Mar 2026 08:00:00 UTC</dateCreated>
  </head>
  <body>
    <outline text="Persian">
      <outline title="خبرگزاری ایرنا" text="خبرگزاری ایرنا"
               xmlUrl="https://www.irna.ir/rss" htmlUrl="https://www.irna.ir"></outline>
    </outline>
    <outline text="All">
      <outline title="" text="" xmlUrl="https://www.alquds.co.uk/feed/"
               htmlUrl="https://www.alquds.co.uk"></outline>
    </outline>
  </body>
</opml>
"""

# NetNewsWire: OPML 1.1 with description and version attributes; Thunderbird: a namespace
# of its own (fz:) and the account as the top folder.
NETNEWSWIRE = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.1">
  <head><title>mySubscriptions.opml</title></head>
  <body>
    <outline text="Sport" title="Sport">
      <outline text="كووورة" title="كووورة" description="" type="rss" version="RSS"
               htmlUrl="https://www.kooora.com" xmlUrl="https://www.kooora.com/rss.aspx"/>
    </outline>
  </body>
</opml>
"""

THUNDERBIRD = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0" xmlns:fz="urn:forumzilla:">
  <head><title>Thunderbird OPML Export - Blogs &amp; News Feeds</title>
    <dateCreated>Sun, 01 Mar 2026 08:00:00 GMT</dateCreated></head>
  <body>
    <outline title="Blogs &amp; News Feeds" text="Blogs &amp; News Feeds">
      <outline type="rss" title="مدى مصر" text="مدى مصر" version="RSS"
               fz:quickMode="false" fz:options="{}"
               xmlUrl="https://www.madamasr.com/ar/feed/" htmlUrl="https://www.madamasr.com"/>
    </outline>
  </body>
</opml>
"""


def test_feedly_folders_become_categories() -> None:
    found = parse_opml(FEEDLY.encode(), "feedly.opml")
    assert [(f.name, f.category) for f in found.feeds] == [
        ("الجزيرة نت", "أخبار"), ("العربية - الخليج", "أخبار"), ("عالم التقنية", "Tech")]
    assert found.feeds[1].url == "https://www.alarabiya.net/feed/rss2/ar/gulf.xml"
    assert found.skipped == []
    assert found.title == "Huda subscriptions in feedly Cloud"


def test_inoreader_nested_folders_are_a_path() -> None:
    found = parse_opml(INOREADER.encode(), "inoreader.opml")
    assert {f.name: f.category for f in found.feeds} == {
        "وكالة الأنباء الكويتية": "News / Gulf", "عنب بلدي": "News / Levant",
        "BBC Arabic": ""}
    assert found.categories == ["News / Gulf", "News / Levant"]


def test_miniflux_missing_title_falls_back_to_the_host() -> None:
    found = parse_opml(MINIFLUX.encode(), "miniflux.opml")
    assert [(f.url, f.name, f.category) for f in found.feeds] == [
        ("https://www.irna.ir/rss", "خبرگزاری ایرنا", "Persian"),
        ("https://www.alquds.co.uk/feed/", "alquds.co.uk", "All")]


def test_netnewswire_and_thunderbird_shapes() -> None:
    sport = parse_opml(NETNEWSWIRE.encode()).feeds
    assert sport == [OpmlFeed("https://www.kooora.com/rss.aspx", "كووورة", "Sport")]
    mada = parse_opml(THUNDERBIRD.encode()).feeds
    assert mada == [OpmlFeed("https://www.madamasr.com/ar/feed/", "مدى مصر",
                             "Blogs & News Feeds")]


def test_category_attribute_when_there_is_no_folder() -> None:
    doc = """<opml version="2.0"><body>
      <outline text="الشرق الأوسط" type="rss" category="/News/Gulf,saved"
               xmlUrl="https://aawsat.com/feed"/>
      <outline text="Hespress" type="rss" xmlUrl="https://www.hespress.com/feed"/>
    </body></opml>"""
    feeds = parse_opml(doc.encode()).feeds
    assert [(f.name, f.category) for f in feeds] == [("الشرق الأوسط", "News / Gulf"),
                                                     ("Hespress", "")]


def test_duplicates_are_dropped_and_bad_addresses_skipped_with_a_reason() -> None:
    doc = """<opml version="2.0"><body>
      <outline text="Folder A">
        <outline text="Al Quds" xmlUrl="https://www.alquds.co.uk/feed/"/>
      </outline>
      <outline text="Folder B">
        <outline text="Al Quds again" xmlUrl="https://www.alquds.co.uk/feed/"/>
      </outline>
      <outline text="Al Quds shouting" xmlUrl="  HTTPS://WWW.ALQUDS.CO.UK/feed/ "/>
      <outline text="Other path case" xmlUrl="https://www.alquds.co.uk/Feed/"/>
      <outline text="ftp" xmlUrl="ftp://files.example.com/feed.xml"/>
      <outline text="script" xmlUrl="javascript:alert(1)"/>
      <outline text="local" xmlUrl="file:///etc/passwd"/>
      <outline text="bad port" xmlUrl="http://example.com:99999/rss"/>
      <outline text="another list" type="include" url="https://example.com/list.opml"/>
    </body></opml>"""
    found = parse_opml(doc.encode())
    assert [(f.name, f.category) for f in found.feeds] == [
        ("Al Quds", "Folder A"), ("Other path case", "")]
    reasons = {s.what: s.reason for s in found.skipped}
    assert reasons == {
        "https://www.alquds.co.uk/feed/": "listed twice",
        "ftp://files.example.com/feed.xml": "not an http(s) address",
        "javascript:alert(1)": "not an http(s) address",
        "file:///etc/passwd": "not an http(s) address",
        "http://example.com:99999/rss": "not a valid web address",
        "https://example.com/list.opml": "a link to another subscription list",
    }


def test_urls_keep_their_path_case_and_lose_surrounding_space() -> None:
    assert normalize_url(" HTTP://User:Pw@News.Example.COM/Arabic/RSS?x=A ") == (
        "http://User:Pw@news.example.com/Arabic/RSS?x=A", None)
    assert normalize_url("https://exa mple.com/rss")[1] == (
        "the address contains spaces or control characters")
    assert normalize_url("https:///rss")[1] == "the address has no host"


@pytest.mark.parametrize(("content", "message"), [
    (b'<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n<outline text="x">\n</body>',
     "opml: list.opml is not well-formed XML: line 5, column 3: mismatched tag"),
    (b"", "opml: list.opml is empty"),
    (b"<rss version='2.0'><channel><title>x</title></channel></rss>",
     "opml: list.opml is not an OPML file (no <opml> element)"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
     b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>&b;</body></opml>',
     "opml: list.opml declares XML entities, which OPML never needs; refused"),
    (b"Just some text, not XML at all",
     "opml: list.opml is not well-formed XML: line 1, column 1: syntax error"),
])
def test_bad_files_are_refused_with_a_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as caught:
        parse_opml(content, "list.opml")
    assert str(caught.value) == message


def five_thousand() -> bytes:
    rows = [f'<outline text="Folder {n}">' + "".join(
        f'<outline type="rss" text="مصدر {n}-{i}" '
        f'xmlUrl="https://feeds{n}.example.com/ar/{i}.xml"/>' for i in range(100))
        + "</outline>" for n in range(50)]
    return ('<?xml version="1.0"?><opml version="2.0"><head><title>big</title></head><body>'
            + "".join(rows) + "</body></opml>").encode()


def test_five_thousand_outlines() -> None:
    found = parse_opml(five_thousand(), "big.opml")
    assert len(found.feeds) == 5000
    assert len(found.categories) == 50
    assert found.feeds[4999] == OpmlFeed("https://feeds49.example.com/ar/99.xml",
                                         "مصدر 49-99", "Folder 49")
    again = parse_opml(export_opml(found.feeds), "again.opml")
    assert again.feeds == sorted(found.feeds, key=lambda f: f.category)


def test_round_trip_keeps_url_name_and_category() -> None:
    feeds = [OpmlFeed("https://a.example.com/rss?x=1&y=2", 'Tom & "Jerry" <news>', "كرتون"),
             OpmlFeed("https://b.example.com/feed", "بلا تصنيف"),
             OpmlFeed("https://c.example.com/feed", "C", "News / Gulf"),
             OpmlFeed("https://d.example.com/feed", "D", "AC/DC"),
             OpmlFeed("https://e.example.com/feed", "E", "News / Gulf")]
    document = export_opml(feeds, created=NOW)
    assert parse_opml(document).feeds == sorted(feeds, key=lambda f: f.category)
    # For readers that import one level of folders: a folder per category, feeds inside.
    root = ET.fromstring(document)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/dateCreated") == "Sun, 01 Mar 2026 09:30:00 +0000"
    body = root.find("body")
    assert body is not None
    folders = [o.get("text") for o in body if o.get("xmlUrl") is None]
    assert folders == ["AC/DC", "News / Gulf", "كرتون"]
    gulf = next(o for o in body if o.get("text") == "News / Gulf")
    assert [(o.get("type"), o.get("title"), o.get("xmlUrl")) for o in gulf] == [
        ("rss", "C", "https://c.example.com/feed"), ("rss", "E", "https://e.example.com/feed")]


def test_export_drops_characters_xml_cannot_carry() -> None:
    document = export_opml([OpmlFeed("https://a.example.com/rss", "bell\x07 and\nline",
                                     "tab\tcat")])
    assert parse_opml(document).feeds == [
        OpmlFeed("https://a.example.com/rss", "bell and line", "tab cat")]


# the store and the command line, on both engines ------------------------------------------

@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    with Store(store_location) as opened:
        yield opened


def test_import_adds_user_feeds_revives_removed_ones_and_keeps_categories(
        store: Store) -> None:
    configured = [FeedConfig(url="https://www.aljazeera.net/rss", name="الجزيرة",
                             category="Config")]
    store.sync_feeds(configured, NOW)
    old = store.add_user_feed("https://www.enabbaladi.net/feed", "عنب بلدي", NOW)
    store.set_feed_category(old.id, "Levant")
    store.set_feed_active(old.id, False)
    found = parse_opml(INOREADER.encode().replace(
        b"https://feeds.bbci.co.uk/arabic/rss.xml", b"https://www.aljazeera.net/rss"))
    plan = plan_import(found, store.feeds(), [f.url for f in configured])
    assert [f.name for f in plan.present] == ["BBC Arabic"]   # the configured URL
    assert [f.name for f in plan.new] == ["وكالة الأنباء الكويتية", "عنب بلدي"]
    assert store.import_feeds(plan.new, NOW) == 2
    feeds = {f.url: f for f in store.feeds()}
    kuna = feeds["https://www.kuna.net.kw/rss/ar.xml"]
    assert (kuna.origin, kuna.active, kuna.category) == ("user", True, "News / Gulf")
    revived = feeds["https://www.enabbaladi.net/feed"]
    assert (revived.id, revived.active, revived.category) == (old.id, True, "Levant")
    assert feeds["https://www.aljazeera.net/rss"].category == "Config"
    refreshed = {f.url for f in store.sync_feeds(configured, NOW)}
    assert refreshed == set(feeds)
    again = plan_import(found, store.feeds(), [f.url for f in configured])
    assert (len(again.new), len(again.present)) == (0, 3)


def test_import_of_five_thousand_feeds_in_one_transaction(store: Store) -> None:
    found = parse_opml(five_thousand())
    assert store.import_feeds(found.feeds, NOW) == 5000
    feeds = store.feeds(active_only=True)
    assert len(feeds) == 5000
    assert {f.category for f in feeds} == {f"Folder {n}" for n in range(50)}


def write_config(tmp_path: Path, store_location: Path | str) -> Path:
    url = store_location if isinstance(store_location, str) else ""
    path = store_location if isinstance(store_location, Path) else tmp_path / "unused.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{path}"\nurl = "{url}"\n'
        '[[feeds]]\nurl = "https://www.kooora.com/rss.aspx"\nname = "كووورة"\n'
        'category = "Sport"\n', encoding="utf-8")
    return config


def test_cli_import_dry_run_import_and_export_round_trip(
        tmp_path: Path, store_location: Path | str) -> None:
    config = write_config(tmp_path, store_location)
    inoreader = tmp_path / "inoreader.opml"
    inoreader.write_text(INOREADER.replace("https://www.kuna.net.kw/rss/ar.xml",
                                           "https://www.kooora.com/rss.aspx")
                         + "", encoding="utf-8")
    runner = CliRunner()

    def nashra(*args: str) -> str:
        result = runner.invoke(main, ["--config", str(config), "feeds", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    dry = nashra("import", "--dry-run", str(inoreader))
    assert dry.splitlines()[0] == ("2 feeds would be added in 1 category, 1 already "
                                   "followed, 0 skipped")
    assert "BBC Arabic" not in nashra("list")   # a dry run writes nothing
    assert nashra("import", str(inoreader)).splitlines()[0] == (
        "2 feeds added in 1 category, 1 already followed, 0 skipped")
    assert nashra("import", str(inoreader)).splitlines()[0] == (
        "0 feeds added, 3 already followed, 0 skipped")
    exported = tmp_path / "out.opml"
    nashra("export", "-o", str(exported))
    stdout = nashra("export")
    expected = [OpmlFeed("https://feeds.bbci.co.uk/arabic/rss.xml", "BBC Arabic"),
                OpmlFeed("https://www.enabbaladi.net/feed", "عنب بلدي", "News / Levant"),
                OpmlFeed("https://www.kooora.com/rss.aspx", "كووورة", "Sport")]
    assert parse_opml(exported.read_bytes()).feeds == expected
    assert parse_opml(stdout.encode()).feeds == expected


def test_cli_import_of_a_broken_file_says_where(tmp_path: Path,
                                               store_location: Path | str) -> None:
    config = write_config(tmp_path, store_location)
    broken = tmp_path / "broken.opml"
    broken.write_text(FEEDLY.replace("</outline>\n    <outline text=\"Tech\"",
                                     "<outline text=\"Tech\"", 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "feeds", "import",
                                       str(broken)])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: opml: broken.opml is not well-formed XML: "
                                     "line 16, column 5: mismatched tag")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("encode", [
    lambda body: body.encode("utf-8"),                                  # no declaration
    lambda body: b"\xef\xbb\xbf" + body.encode("utf-8"),                # UTF-8 with a BOM
    lambda body: ('<?xml version="1.0" encoding="windows-1256"?>\n' + body).encode("cp1256"),
    lambda body: ('<?xml version="1.0" encoding="UTF-16"?>\n' + body).encode("utf-16"),
], ids=["utf-8", "bom", "windows-1256", "utf-16"])
def test_arabic_names_survive_every_declared_encoding(encode: Any) -> None:
    body = ('<opml version="1.0"><body><outline text="أخبار الخليج">'
            '<outline text="صحيفة الرياض" xmlUrl="https://www.alriyadh.com/rss"/>'
            "</outline></body></opml>")
    assert parse_opml(encode(body)).feeds == [
        OpmlFeed("https://www.alriyadh.com/rss", "صحيفة الرياض", "أخبار الخليج")]


def test_a_file_not_in_its_declared_encoding_is_refused() -> None:
    body = '<?xml version="1.0" encoding="no-such-charset"?><opml><body/></opml>'
    with pytest.raises(OpmlError) as caught:
        parse_opml(body.encode(), "odd.opml")
    assert str(caught.value) == "opml: odd.opml is in an unknown or wrong character encoding"
