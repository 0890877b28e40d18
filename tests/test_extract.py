"""Extract stage: decoding, trafilatura extraction and boilerplate rules."""

from __future__ import annotations

import asyncio
import json

import pytest
from support.arabic_samples import (
    ARTICLES,
    NAIVE_EXTRACTOR_OUTPUT,
    NAIVE_EXTRACTOR_STORY,
    SampleArticle,
    article_page_html,
    article_path,
    legacy_encoded_page,
    register_site,
    shared_fixtures,
    windows_1256_page,
)
from support.feed_server import FeedServer

from bot.boilerplate import strip_boilerplate
from bot.errors import ExtractError
from bot.extract import decode_html, extract_text
from bot.fetch import Fetcher, FetchSettings
from bot.parse import html_to_text

CHARDET = shared_fixtures("chardet")
BOILERPLATE_LINES = (
    "زر الذهاب إلى الأعلى", "نهاية الرسالة", "جميع الحقوق محفوظة", "اقرأ أيضاً",
    "فيسبوك تويتر واتساب تلغرام", "اشترك في النشرة البريدية", "ملفات تعريف الارتباط",
)


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# --- decode_html ------------------------------------------------------------------------------


def test_charset_from_header_wins_over_meta() -> None:
    page = '<html><head><meta charset="iso-8859-6"></head><body>خبر</body></html>'
    assert "خبر" in decode_html(page.encode("cp1256"), "text/html; charset=windows-1256")


def test_charset_from_meta_and_http_equiv() -> None:
    text = "الاقتِصاد الوطني"
    meta = f'<html><head><meta charset="windows-1256"></head><body>{text}</body></html>'
    equiv = ('<html><head><meta http-equiv="Content-Type" content="text/html; '
             f'charset=iso-8859-6"></head><body>{text}</body></html>')
    assert text in decode_html(meta.encode("cp1256"), "text/html")
    assert text in decode_html(equiv.encode("iso-8859-6"), None)


def test_bom_and_utf8_detection() -> None:
    text = "<p>أخبار اليوم</p>"
    assert decode_html(b"\xef\xbb\xbf" + text.encode(), None) == text
    assert decode_html("\ufeff".encode("utf-16-le") + text.encode("utf-16-le"), None) == text
    assert decode_html(text.encode(), None) == text


def test_wrong_declared_charset_falls_back_to_detection() -> None:
    text = "<p>وزارة الصحة تطلق حملة</p>"
    assert decode_html(text.encode("cp1256"), "text/html; charset=utf-8") == text
    assert decode_html(text.encode(), "text/html; charset=bogus-charset") == text


def test_undeclared_latin_page_is_not_taken_for_arabic() -> None:
    page = "<html><body><p>Información pública: el índice subió más de lo previsto.</p>"
    text = decode_html((page * 3).encode("cp1252"), None)
    assert "Información pública" in text and "índice" in text


def test_latin1_label_decodes_as_windows_1252() -> None:
    assert decode_html("<p>caf\u00e9 \u2014 ok</p>".encode("cp1252"),
                       "text/html; charset=ISO-8859-1") == "<p>caf\u00e9 \u2014 ok</p>"


@pytest.mark.parametrize("encoding", ["cp1256", "iso-8859-6"])
def test_legacy_arabic_without_charset(encoding: str) -> None:
    for article in ARTICLES:
        body = legacy_encoded_page(article, encoding)
        expected = article_page_html(article, boilerplate=False, charset_meta=False)
        assert decode_html(body, None) == expected
        assert decode_html(body, "text/html") == expected


def test_windows_1256_page_extracts_correct_arabic() -> None:
    article = ARTICLES[3]
    text = extract_text(windows_1256_page(article), "http://news.test" + article_path(article))
    assert text == article.text


@pytest.mark.skipif(not CHARDET.is_dir(), reason="shared chardet fixtures absent")
@pytest.mark.parametrize("name", [
    "_chromium_windows-1256_with_no_encoding_specified.html",
    "_chromium_ISO-8859-6_with_no_encoding_specified.html",
])
def test_real_legacy_pages_without_charset(name: str) -> None:
    text = decode_html((CHARDET / name).read_bytes(), None)
    assert "كتائب الشهيد عز الدين القسام" in text
    assert "بيت لاهيا شمال قطاع غزة" in text
    assert not any(ch in text for ch in "êèçâ×¬")


# --- extract_text -----------------------------------------------------------------------------


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.slug)
def test_extract_keeps_story_and_drops_site_furniture(article: SampleArticle) -> None:
    page = article_page_html(article).encode()
    text = extract_text(page, "https://news.test/a", "text/html; charset=utf-8")
    assert paragraphs(text) == list(article.paragraphs)


def test_extract_rejects_pages_without_article() -> None:
    with pytest.raises(ExtractError) as info:
        extract_text(b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
                     "https://news.test/")
    assert info.value.reason == "no article text found"
    with pytest.raises(ExtractError):
        extract_text(b"", "https://news.test/")


def test_extract_page_served_by_loopback(feed_server: FeedServer) -> None:
    register_site(feed_server, ARTICLES[:2])
    article = ARTICLES[1]

    async def go() -> tuple[bytes, str]:
        async with Fetcher(FetchSettings(timeout_seconds=2)) as fetcher:
            result = await fetcher.fetch(feed_server.url(article_path(article)))
            return result.body, result.headers["content-type"]
    body, ctype = asyncio.run(go())
    assert extract_text(body, feed_server.url(article_path(article)), ctype) == article.text


def test_real_cnn_arabic_page_matches_gold_text() -> None:
    page = shared_fixtures("newspaper4k", "arabic_article.html")
    if not page.exists():
        pytest.skip("shared fixtures absent")
    gold = shared_fixtures("newspaper4k", "arabic_article.txt").read_text("utf-8")
    text = " ".join(extract_text(page.read_bytes(), "https://arabic.cnn.com/x").split())
    for paragraph in filter(None, (p.strip() for p in gold.splitlines())):
        assert " ".join(paragraph.split()) in text


def test_real_assabah_page_snippets() -> None:
    folder = shared_fixtures("trafilatura")
    if not folder.is_dir():
        pytest.skip("shared fixtures absent")
    gold = next(iter(json.loads((folder / "assabah.evaldata.json").read_text("utf-8")).values()))
    text = extract_text((folder / "assabah.com.tn.article.html").read_bytes(),
                        "http://www.assabah.com.tn/article/164913")
    assert all(snippet in text for snippet in gold["with"])
    assert not any(snippet in text for snippet in gold["without"])


REAL_PAGES = ("newspaper4k/arabic_article.html", "trafilatura/assabah.com.tn.article.html",
              "htmldate/1550981615_arabic.sputniknews.com.html",
              "htmldate/1588107198_almadenahnews.com.html", "htmldate/1623715966_albayan.ae.html",
              "htmldate/1731695567_akhbarelyom.com.amp.html",
              "htmldate/1764731404_beirutobserver.com.html")


@pytest.mark.parametrize("name", REAL_PAGES)
def test_real_pages_lose_no_extracted_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # What trafilatura keeps of these pages is all story: the rules must find nothing in it.
    page = shared_fixtures(*name.split("/"))
    if not page.exists():
        pytest.skip("shared fixtures absent")
    cleaned = extract_text(page.read_bytes(), "https://news.test/a")
    monkeypatch.setattr("bot.extract.strip_boilerplate", lambda text: text)
    raw = extract_text(page.read_bytes(), "https://news.test/a")
    # The rules also collapse runs of spaces inside a line; that is all they may change here.
    assert paragraphs(cleaned) == [" ".join(p.split()) for p in paragraphs(raw)]


# --- strip_boilerplate ------------------------------------------------------------------------


def test_realistic_naive_extractor_output() -> None:
    cleaned = strip_boilerplate(NAIVE_EXTRACTOR_OUTPUT)
    assert paragraphs(cleaned) == list(NAIVE_EXTRACTOR_STORY)


def test_naive_text_of_own_boilerplate_page() -> None:
    # html_to_text keeps every block of the page: the worst case strip_boilerplate meets.
    article = ARTICLES[5]
    cleaned = strip_boilerplate(html_to_text(article_page_html(article)))
    kept = paragraphs(cleaned)
    for paragraph in article.paragraphs:  # including the one that mentions Facebook/Twitter
        assert paragraph in kept
    for line in BOILERPLATE_LINES:
        assert line not in cleaned
    assert "تابعونا على" not in cleaned
    assert not any(other.title in cleaned for other in ARTICLES if other is not article)


@pytest.mark.parametrize("line", [
    "شارك", "Share this", "Share this article", "تابعونا على", "تابعونا على تويتر: @nashra",
    "Follow us on Facebook and Twitter", "فيسبوك تويتر واتساب تلغرام",
    "Facebook Twitter WhatsApp Telegram", "فيس بوك | واتس آب | تيليجرام", "وفيسبوك وتويتر",
    "زر الذهاب إلى الأعلى", "العودة إلى الأعلى", "Back to top", "© 2026 الوكالة",
    "جميع الحقوق محفوظة لموقع الأخبار", "All rights reserved.", "Copyright 2026 News Ltd",
    "© وقد قام مركز الترجمة بترجمة هذا الخبر", "نهاية الرسالة", "نهاية الرسالة/", "انتهى",
    "(انتهى)", "- انتهى -", "Get News Fast", "اشترك في النشرة البريدية",
    "اشترك في النشرة الإخبارية ليصلك كل جديد", "Subscribe to our newsletter",
    "نستخدم ملفات تعريف الارتباط (الكوكيز) لتحسين تجربتك. موافق",
    "We use cookies to improve your experience on this site.", "* * *", "|", "اشترك",
    "من نحن", "اتصل بنا", "سياسة الخصوصية",
])
def test_single_boilerplate_lines_are_removed(line: str) -> None:
    story = "قال المتحدث باسم الوزارة إن الاجتماع عقد صباح اليوم في العاصمة."
    assert strip_boilerplate(f"{story}\n\n{line}\n\n{story}") == f"{story}\n\n{story}"


@pytest.mark.parametrize("header", ["اقرأ أيضا", "اقرأ أيضاً", "إقرأ أيضا:", "مواضيع ذات صلة",
                                    "أخبار ذات صلة", "Read more"])
def test_related_list_after_header_is_removed(header: str) -> None:
    story1 = "أعلنت الشركة عن أرباح فصلية قياسية بلغت 2.5 مليار دولار خلال الربع الثاني."
    story2 = ("وأوضح الرئيس التنفيذي أن الطلب على منتجات الشركة ارتفع في الأسواق الآسيوية "
              "والأوروبية، متوقعا استمرار النمو حتى نهاية العام الحالي على الأقل.")
    text = (f"{story1}\n\n{header}\n\nارتفاع أسعار الذهب في الأسواق المحلية\n"
            f"افتتاح مستشفى جديد في الجنوب\n\n{story2}")
    assert strip_boilerplate(text) == f"{story1}\n\n{story2}"


def test_inline_read_also_link_is_removed() -> None:
    story = "افتتح الوزير المعرض الدولي للكتاب بمشاركة ناشرين من 35 دولة."
    assert strip_boilerplate(f"{story}\n\nاقرأ أيضا: معرض الكتاب يحطم الأرقام") == story


@pytest.mark.parametrize("paragraph", [
    "وقالت الشركة إنها ستعلن النتائج عبر صفحتها على فيسبوك وحسابها على تويتر يوم الأحد.",
    "شارك في الاجتماع ممثلون عن عشر دول عربية.",
    "Facebook said on Tuesday that it would invest in new data centres in the region.",
    "وقال إن الاجتماع انتهى دون اتفاق.",
    "انتهى الاجتماع بعد ثلاث ساعات من المباحثات.",
    "تابعوا التحقيق في القضية لمدة عامين.",
    "ناقش البرلمان قانون حقوق النشر الجديد.",
])
def test_story_sentences_are_kept(paragraph: str) -> None:
    assert strip_boilerplate(paragraph) == paragraph


def test_end_marker_glued_to_last_sentence_is_trimmed() -> None:
    assert strip_boilerplate("وأكد الوزير استمرار الدعم. (انتهى)") == "وأكد الوزير استمرار الدعم."
    assert strip_boilerplate("وأكد الوزير استمرار الدعم. نهاية الرسالة/") == \
        "وأكد الوزير استمرار الدعم."


def test_paragraph_layout_is_normalised() -> None:
    text = "  الأولى   هنا \n\n\n\nالثانية\nسطر ثان\n\nشارك\n\n"
    assert strip_boilerplate(text) == "الأولى هنا\n\nالثانية\nسطر ثان"
