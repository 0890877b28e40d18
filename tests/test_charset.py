"""Charset policy shared by feeds and pages: BOMs, mislabelled UTF-8, declared charsets read as
browsers read them, legacy Arabic code pages without any declaration, last-resort fallbacks."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

import pytest
from support.arabic_samples import (
    ARTICLES,
    SampleArticle,
    article_page_html,
    legacy_encoded_page,
    rss_with_content_encoded,
    shared_fixtures,
    summary_only_rss,
)

from bot import charset
from bot.extract import decode_html, extract_text
from bot.feedprep import to_utf8
from bot.parse import parse_feed

NOW = datetime(2026, 7, 28, 12, 0, tzinfo=UTC)
BASE = "https://news.example"
CHARDET = shared_fixtures("chardet")
REAL_LEGACY_PAGES = ("_chromium_windows-1256_with_no_encoding_specified.html",
                     "_chromium_ISO-8859-6_with_no_encoding_specified.html")
# Single-byte labels publishers put on pages and feeds that are really UTF-8.
WRONG_SINGLE_BYTE_LABELS = ("windows-1256", "ISO-8859-6", "iso-8859-1", "us-ascii",
                            "ISO-8859-6-I", "x-cp1256")
ARTICLE = ARTICLES[3]
PAGE = article_page_html(ARTICLE, boilerplate=False, charset_meta=False)


def feed_text(body: bytes, content_type: str) -> str:
    """What feedprep hands feedparser, as text."""
    prepared = to_utf8(body, content_type)
    assert prepared is not None
    data, announced = prepared
    assert announced.endswith("; charset=utf-8")
    return data.decode("utf-8")


def titles(body: bytes, content_type: str) -> set[str]:
    feed = parse_feed(body, {"Content-Type": content_type}, BASE + "/feed.xml", NOW, None)
    return {entry.title for entry in feed.entries}


def with_meta(page: str, label: str) -> str:
    return page.replace("<head>", f'<head><meta charset="{label}">', 1)


def with_xml_encoding(feed: bytes, label: str) -> bytes:
    return feed.replace(b'encoding="utf-8"', f'encoding="{label}"'.encode(), 1)


# --- UTF-8 labelled as a single-byte charset --------------------------------------------------


@pytest.mark.parametrize("label", WRONG_SINGLE_BYTE_LABELS)
def test_utf8_page_with_wrong_header_charset(label: str) -> None:
    assert decode_html(PAGE.encode(), f"text/html; charset={label}") == PAGE


@pytest.mark.parametrize("label", WRONG_SINGLE_BYTE_LABELS)
def test_utf8_page_with_wrong_meta_charset(label: str) -> None:
    page = with_meta(PAGE, label)
    assert decode_html(page.encode(), "text/html") == page
    assert decode_html(page.encode(), None) == page


def test_utf8_page_labelled_windows_1256_extracts_the_story() -> None:
    page = with_meta(article_page_html(ARTICLE), "windows-1256").replace(
        '<meta charset="utf-8">', "")
    text = extract_text(page.encode(), "https://news.test/a", "text/html; charset=windows-1256")
    assert text == ARTICLE.text


@pytest.mark.parametrize("label", WRONG_SINGLE_BYTE_LABELS)
def test_utf8_feed_with_wrong_header_charset(label: str) -> None:
    feed = rss_with_content_encoded(ARTICLES[:3], BASE)
    assert titles(feed, f"application/rss+xml; charset={label}") == \
        {a.title for a in ARTICLES[:3]}


@pytest.mark.parametrize("label", WRONG_SINGLE_BYTE_LABELS)
def test_utf8_feed_with_wrong_xml_declaration(label: str) -> None:
    feed = with_xml_encoding(rss_with_content_encoded(ARTICLES[:3], BASE), label)
    text = feed_text(feed, "application/rss+xml")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert ARTICLES[0].title in text
    assert titles(feed, "application/rss+xml") == {a.title for a in ARTICLES[:3]}


# --- declared charsets that are right ---------------------------------------------------------


@pytest.mark.parametrize(("label", "codec"), [
    ("windows-1256", "cp1256"), ("x-cp1256", "cp1256"), ("ISO-8859-6", "iso-8859-6"),
    ("ISO-8859-6-I", "iso-8859-6"), ("iso-8859-6-e", "iso-8859-6"), ("arabic", "iso-8859-6"),
])
def test_legacy_page_and_feed_with_right_label(label: str, codec: str) -> None:
    assert decode_html(PAGE.encode(codec), f"text/html; charset={label}") == PAGE
    assert decode_html(with_meta(PAGE, label).encode(codec), None) == with_meta(PAGE, label)
    feed = with_xml_encoding(rss_with_content_encoded(ARTICLES[:2], BASE), label)
    assert titles(feed.decode("utf-8").encode(codec), "application/xml") == \
        {a.title for a in ARTICLES[:2]}


def test_header_utf8_wrong_and_meta_right() -> None:
    page = with_meta(PAGE, "windows-1256")
    assert decode_html(page.encode("cp1256"), "text/html; charset=utf-8") == page


def test_latin1_label_is_read_as_windows_1252() -> None:
    text = "<p>\u201cCaf\u00e9\u201d \u2014 5 \u20ac</p>"  # curly quotes, dash, euro: 0x80-0x9F
    assert charset.decode(text.encode("cp1252"), "ISO-8859-1") == text
    assert charset.decode(text.encode("cp1252"), "us-ascii") == text


def test_declared_multibyte_charset_is_trusted_over_utf8() -> None:
    # C3 A9 is "é" in UTF-8 and a Chinese character in GB18030; a multi-byte label can be
    # refuted by the bytes, so when it is not, it is believed.
    body = "<p>café</p>".encode()
    assert charset.decode(body, "gb2312") == body.decode("gb18030")
    assert charset.decode(body, "gb2312", "windows-1256") == body.decode("gb18030")
    assert charset.decode(body, "windows-1256", "gb2312") == "<p>café</p>"


def test_utf16_label_on_single_byte_text_means_utf8() -> None:
    assert charset.decode(PAGE.encode(), "utf-16") == PAGE
    assert decode_html(with_meta(PAGE, "utf-16").encode(), None) == with_meta(PAGE, "utf-16")


@pytest.mark.parametrize("label", ["base64", "unicode_escape", "raw_unicode_escape", "utf-7",
                                   "undefined", "zlib", "cp864", "bogus-charset", ""])
def test_labels_browsers_do_not_know_are_ignored(label: str) -> None:
    page = "<p>\\u0041 +AGEA- خبر</p>"
    assert charset.decode(page.encode(), label) == page
    assert decode_html(page.encode("cp1256") * 5, f"text/html; charset={label}") == page * 5


@pytest.mark.parametrize(("label", "codec"), [
    ("ISO-8859-1", "cp1252"), ("latin1", "cp1252"), ("ascii", "cp1252"),
    ("iso_8859-1:1987", "cp1252"), ("ISO-8859-9", "cp1254"), ("tis-620", "cp874"),
    ("ISO-8859-6-I", "iso8859-6"), ("csISO88596E", "iso8859-6"), ("iso88596", "iso8859-6"),
    ("ASMO-708", "iso8859-6"), ("x-cp1256", "cp1256"), ("Windows-1256", "cp1256"),
    ("iso-8859-8-i", "iso8859-8"), ("utf8", "utf-8"), ("unicode-1-1-utf-8", "utf-8"),
    ("UTF-16", "utf-16-le"), ("gbk", "gb18030"), ("Shift_JIS", "cp932"),
    ("euc-kr", "cp949"), ("big5", "big5hkscs"), (" UTF-8 ", "utf-8"),
    ("utf-32", None), ("base64", None), ("x-user-defined", None),
])
def test_codec_names_follow_whatwg(label: str, codec: str | None) -> None:
    assert charset.codec_name(label) == codec


# --- byte-order marks -------------------------------------------------------------------------


def test_boms_win_over_labels() -> None:
    assert charset.decode(codecs.BOM_UTF8 + PAGE.encode(), "windows-1256") == PAGE
    assert charset.decode(codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), "utf-8") == PAGE
    assert charset.decode(codecs.BOM_UTF16_BE + PAGE.encode("utf-16-be")) == PAGE
    assert charset.decode(codecs.BOM_UTF8 + "<p>café</p>".encode(), "gb2312") == "<p>café</p>"


def test_utf8_bom_before_legacy_bytes_is_not_believed() -> None:
    # A UTF-8 BOM left by an editor in front of a windows-1256 template.
    assert charset.decode(codecs.BOM_UTF8 + PAGE.encode("cp1256")) == PAGE
    feed = rss_with_content_encoded(ARTICLES[:2], BASE).decode("utf-8").encode("cp1256")
    assert titles(codecs.BOM_UTF8 + feed, "application/xml") == {a.title for a in ARTICLES[:2]}


# --- no declaration at all --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1256", "iso-8859-6"])
@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.slug)
def test_legacy_page_without_declaration(article: SampleArticle, encoding: str) -> None:
    expected = article_page_html(article, boilerplate=False, charset_meta=False)
    assert charset.decode(legacy_encoded_page(article, encoding)) == expected


@pytest.mark.parametrize("encoding", ["cp1256", "iso-8859-6"])
def test_legacy_feed_without_declaration(encoding: str) -> None:
    feed = rss_with_content_encoded(ARTICLES, BASE).replace(b' encoding="utf-8"', b"")
    legacy = feed.decode("utf-8").encode(encoding)
    assert feed_text(legacy, "application/xml") == feed.decode("utf-8")
    assert titles(legacy, "application/rss+xml") == {a.title for a in ARTICLES}


def test_legacy_feed_full_of_links_still_reads_as_arabic() -> None:
    # Links with long percent-encoded slugs are Latin letters; they must not make an Arabic
    # feed look foreign.
    slug = "?slug=" + "%D8%A7%D9%84%D8%A7%D9%82%D8%AA%D8%B5%D8%A7%D8%AF" * 20
    feed = summary_only_rss(ARTICLES, BASE, link_suffix=slug).replace(b' encoding="utf-8"', b"")
    assert titles(feed.decode("utf-8").encode("cp1256"), "text/xml") == \
        {a.title for a in ARTICLES}


def test_undeclared_non_arabic_legacy_text_goes_to_charset_normalizer() -> None:
    russian = "<p>Правительство объявило о новых мерах поддержки экономики страны.</p>"
    spanish = ('<?xml version="1.0"?><rss><channel><title>Noticias</title><item><title>'
               "Información pública: el índice subió más de lo previsto</title></item>"
               "</channel></rss>")
    assert charset.decode(russian.encode("cp1251")) == russian
    assert feed_text(spanish.encode("cp1252"), "application/rss+xml") == spanish


def test_last_resort_is_windows_1252_with_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charset, "_normalizer_guess", lambda body: None)
    body = bytes(range(0x20, 0x100))
    assert charset.decode(body, "utf-8") == body.decode("cp1252", "replace")


@pytest.mark.skipif(not CHARDET.is_dir(), reason="shared chardet fixtures absent")
@pytest.mark.parametrize("label", [None, "utf-8", "bogus"])
@pytest.mark.parametrize("name", REAL_LEGACY_PAGES)
def test_real_legacy_pages_through_both_paths(name: str, label: str | None) -> None:
    body = (CHARDET / name).read_bytes()
    content_type = f"text/html; charset={label}" if label else "text/html"
    for text in (decode_html(body, content_type), feed_text(body, content_type)):
        assert "كتائب الشهيد عز الدين القسام" in text
        assert "بيت لاهيا شمال قطاع غزة" in text
        assert not any(ch in text for ch in "êèçâ×¬")
