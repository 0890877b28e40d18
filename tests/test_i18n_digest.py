"""Digests and alerts in the chat's own language: an Arabic chat gets Arabic headers, dates,
counts and buttons, an English chat in the same store English ones — composed from the chat's
stored language (no update at hand), on a real SQLite file; and word lists, reading and
searching answered in Arabic through the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.bot_harness import READER, BotSite, button_data, press, running_bot, say
from support.offline_services import offline_services

from bot.config import FeedConfig
from bot.digest import relative_time
from bot.digests import queue_alerts, queue_digest
from bot.models import Article
from bot.store import Store
from bot.telegram.services import Services

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # a Friday
ARABIC, ENGLISH = 7001, 7002
HEADLINES = [
    ("البرلمان يقر موازنة العام المقبل بعد جلسة طويلة", "Parliament passes next year's budget"),
    ("ارتفاع أسعار القمح في الأسواق المحلية", "Wheat prices rise in local markets"),
    ("افتتاح محطة تحلية جديدة على الساحل", "New desalination plant opens on the coast"),
    ("المنتخب يتأهل إلى نهائي البطولة", "The national team reaches the final"),
    ("البنك المركزي يثبت سعر الفائدة", "Central bank holds the interest rate"),
]
ISOLATES = re.compile("[\u2066-\u2069]")


def plain(text: str) -> str:
    """The text as read: without the invisible bidi isolates around interpolated values."""
    return ISOLATES.sub("", text)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    with Store(tmp_path / "nashra.db") as store:
        store.sync_feeds([FeedConfig("https://a.example/rss", "الجزيرة نت")], NOW)
        for chat, language in ((ARABIC, "ar"), (ENGLISH, "en")):
            store.ensure_chat(chat, "private", "reader", times=("08:00",), timezone="UTC",
                              max_items=2, now=NOW - timedelta(days=1), language=language)
        store.insert_articles([Article(
            feed_id=1, key=f"k{n}", url=f"https://a.example/{n}",
            canonical_url=f"https://a.example/{n}", published=NOW - timedelta(hours=3),
            fetched=NOW, language="ar", title_original=arabic,
            text_original=arabic + ". تفاصيل الخبر.", title_translated=english,
            text_translated=english + ". Details.", lead=english + ".", model="m")
            for n, (arabic, english) in enumerate(HEADLINES)])
        yield offline_services(store)


def digest_of(svc: Services, chat_id: int) -> tuple[str, str]:
    chat = svc.store.get_chat(chat_id)
    assert chat is not None
    assert queue_digest(svc, chat, NOW) == 2
    [message] = [m for m in svc.store.outbox_messages(chat_id) if m.kind != "alert"]
    [[button]] = json.loads(message.buttons or "[]")
    return message.text, button["text"]


def test_an_arabic_chat_gets_an_arabic_digest(svc: Services) -> None:
    text, button = digest_of(svc, ARABIC)
    first = plain(text).split("\n")
    assert first[0] == "<b>موجز نشرة — الجمعة 20 نوفمبر 2026، 08:00 (UTC)</b>"
    assert first[1] == "2 من 5 أخبار مترجمة عن العربية، الأوسع تغطيةً أولًا"
    assert "منذ 3 ساعات" in plain(text)
    assert plain(text).rstrip().endswith("<i>…و3 أخبار أخرى.</i>")
    assert plain(button) == "التالي: 2 من 3 ◀"
    # The values stay isolated: a Latin time zone cannot reorder the Arabic line.
    assert "(\u2068UTC\u2069)" in text
    # The stories themselves are the English translations, with the /read_ID commands.
    assert any(english in text for _arabic, english in HEADLINES)
    assert re.search(r"/read_\d+", text)


def test_an_english_chat_in_the_same_store_keeps_english(svc: Services) -> None:
    text, button = digest_of(svc, ENGLISH)
    assert text.startswith("<b>Nashra digest — Fri 20 Nov 2026, 08:00 (UTC)</b>\n"
                           "2 of 5 stories translated from Arabic, most widely reported first")
    assert "3 h ago" in text and text.rstrip().endswith("<i>…and 3 more stories.</i>")
    assert button == "Next 2 of 3 ▶"
    assert not ISOLATES.search(text.split("\n")[0])


def test_an_arabic_chat_gets_an_arabic_alert(svc: Services) -> None:
    for chat in (ARABIC, ENGLISH):
        assert svc.store.add_chat_word(chat, "alert", "القمح", NOW)
    assert queue_alerts(svc, [1, 2, 3, 4, 5], NOW) == 2
    [arabic] = [m.text for m in svc.store.outbox_messages(ARABIC) if m.kind == "alert"]
    [english] = [m.text for m in svc.store.outbox_messages(ENGLISH) if m.kind == "alert"]
    assert plain(arabic).startswith("<b>🔔 تنبيه: </b>«القمح»\n")
    assert "Wheat prices rise in local markets" in arabic and "منذ 3 ساعات" in plain(arabic)
    assert english.startswith("<b>🔔 Alert: </b>“القمح”\n") and "3 h ago" in english


@pytest.mark.parametrize(("age", "english", "arabic"), [
    (timedelta(seconds=20), "just now", "الآن"),
    (timedelta(minutes=1), "1 min ago", "منذ دقيقة"),
    (timedelta(minutes=2), "2 min ago", "منذ دقيقتين"),
    (timedelta(minutes=5), "5 min ago", "منذ 5 دقائق"),
    (timedelta(minutes=45), "45 min ago", "منذ 45 دقيقة"),
    (timedelta(hours=1), "1 h ago", "منذ ساعة"),
    (timedelta(hours=11), "11 h ago", "منذ 11 ساعة"),
    (timedelta(hours=30), "yesterday", "أمس"),
    (timedelta(days=2), "2 days ago", "منذ يومين"),
    (timedelta(days=6), "6 days ago", "منذ 6 أيام"),
    (timedelta(days=40), "11 Oct 2026", "11 أكتوبر 2026"),
])
def test_ages_and_dates_follow_arabic_plurals(age: timedelta, english: str,
                                              arabic: str) -> None:
    assert relative_time(NOW - age, NOW) == english
    assert plain(relative_time(NOW - age, NOW, "ar")) == arabic


def read(message: dict[str, Any]) -> str:
    return plain(str(message["text"]))


def test_an_arabic_reader_manages_words_reads_and_searches_in_arabic(site: BotSite) -> None:
    tg = site.telegram
    tg.set_language(READER, "ar")

    async def scenario() -> None:
        async with running_bot(site):
            added = await say(tg, "/filter +النفط -Football")
            assert read(added) == ("التصفية\n\u200fأُضيفت إلى كلمات التضمين: “النفط”.\n"
                                   "\u200fأُضيفت إلى كلمات الاستبعاد: “Football”.\n"
                                   "/filter يعرض القائمة.")
            listing = await say(tg, "/filter")
            assert "لا تُرسل إلا الأخبار المطابقة لإحدى هذه الكلمات:\n• النفط" in read(listing)
            answered = await press(tg, READER, listing["message_id"],
                                   button_data(listing, "Football"))
            assert plain(answered["text"]) == "حُذفت: Football"
            alerts = await say(tg, "/alert")
            assert read(alerts).startswith("التنبيهات\nيُرسل هنا كل خبر جديد يطابق كلمة تنبيه")
            assert "لا كلمات تنبيه بعد." in read(alerts)
            assert read(await say(tg, "/read 99999")) == "لا يوجد مقال برقم 99999."
            assert read(await say(tg, "/read")).startswith("الاستخدام: /read ID")
            assert read(await say(tg, "/search zzzqqq")) == "لا نتائج لـ zzzqqq."

    asyncio.run(scenario())
