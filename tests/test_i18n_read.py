"""Reading and searching in the chat's language: /read's labels and the original's button in
Arabic, the original's language named (Persian, not "Arabic"), /search's query problems in
Arabic; the terminal (``nashra read``, ``nashra search``) stays English."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from support.bot_harness import READER, BotSite, button_data, press, running_bot, say
from support.fake_telegram import FakeTelegram

from bot.digest import PlainText, TelegramHTML, local_date, relative_time, render_header
from bot.i18n import FSI, LRI, PDI
from bot.languages import language_name
from bot.models import Article
from bot.query import parse_query
from bot.reader import RLM, render_article, render_original
from bot.search import query_problem
from bot.store import StoredArticle

ARABIC_SENTENCE = "وقال المتحدث باسم الحكومة إن الاجتماع المقبل سيعقد في العاصمة."
PERSIAN_TITLE = "افزایش قیمت نان در تهران"
PERSIAN_SENTENCE = "نانوایی‌های تهران از هفته آینده قیمت‌های تازه را اعمال می‌کنند."
ARABIC_LETTERS = re.compile("[\u0600-\u06ff]")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def isolated(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def article(feed_id: int, key: str, **fields: Any) -> Article:
    now = datetime.now(UTC)
    values: dict[str, Any] = dict(
        feed_id=feed_id, key=key, url=f"https://example.org/{key}",
        canonical_url=f"https://example.org/{key}", published=now - timedelta(days=3),
        fetched=now, language="ar", title_original="الحكومة تعلن موعد الاجتماع",
        text_original=ARABIC_SENTENCE, title_translated="Government sets the meeting date",
        text_translated=f"The cabinet met on Sunday. {ARABIC_SENTENCE} Talks go on.",
        model="ar-en@1.0", untranslated=True)
    values.update(fields)
    return Article(**values)


def add_articles(site: BotSite) -> dict[str, int]:
    """An Arabic and a Persian article, each with a sentence the model left untranslated."""
    with site.store() as store:
        feed_id = store.feeds()[0].id
        ids = store.insert_articles([
            article(feed_id, "arabic"),
            article(feed_id, "persian", language="fa", title_original=PERSIAN_TITLE,
                    text_original=PERSIAN_SENTENCE, title_translated="Bread prices rise",
                    text_translated=f"Bakers raised prices. {PERSIAN_SENTENCE}",
                    model="fa-en@1.0"),
        ])
    return dict(zip(["arabic", "persian"], ids, strict=True))


def stored(site: BotSite, article_id: int) -> StoredArticle:
    with site.store() as store:
        found = store.get_article(article_id)
    assert found is not None
    return found


async def sent_after(tg: FakeTelegram, before: int, count: int = 1) -> list[dict[str, Any]]:
    return (await tg.wait_for_messages_async(READER, before + count))[before:]


def test_an_arabic_chat_reads_with_arabic_labels_and_the_original_named(site: BotSite) -> None:
    ids = add_articles(site)
    published = stored(site, ids["arabic"]).published.astimezone(UTC)
    day = local_date(published, "ar")  # e.g. "23 نوفمبر 2026"
    ago = relative_time(published, datetime.now(UTC), "ar")
    assert ARABIC_LETTERS.search(day) and ARABIC_LETTERS.search(ago)

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "ar")
            answer = await say(tg, f"/read {ids['arabic']}")
            text = answer["text"]
            assert text.startswith("Government sets the meeting date\n")  # the story: English
            assert text.splitlines()[1] == (
                f"{isolated(site.settings.feeds[0].name)} · {day}, {published:%H:%M} UTC ({ago})")
            assert ("الجمل التي تعذّر على النموذج ترجمتها معروضة باللغة "
                    f"{isolated('العربية')}.") in text
            assert f"[غير مترجم] {isolated(ARABIC_SENTENCE)}" in text
            assert "not translated" not in text and "Sentences" not in text
            label = f"الأصل باللغة {isolated('العربية')}"
            assert button_data(answer, label) == f"orig:{ids['arabic']}"

            before = len(tg.sent(READER))
            await press(tg, READER, answer["message_id"], f"orig:{ids['arabic']}")
            [original] = await sent_after(tg, before)
            assert original["text"].startswith(f"{label}\n{RLM}الحكومة تعلن موعد الاجتماع\n")
            assert f" · {day}, {published:%H:%M} UTC\n" in original["text"]

            persian = await say(tg, f"/read {ids['persian']}")
            assert f"معروضة باللغة {isolated('الفارسية')}." in persian["text"]
            assert button_data(persian, f"الأصل باللغة {isolated('الفارسية')}") == (
                f"orig:{ids['persian']}")

    asyncio.run(scenario())


def test_a_persian_article_is_read_as_persian_in_english(site: BotSite) -> None:
    ids = add_articles(site)
    persian = stored(site, ids["persian"])

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            answer = await say(tg, f"/read {ids['persian']}")
            assert answer["text"].startswith("Bread prices rise\n")
            assert "Sentences the model could not translate are shown in Persian." in (
                answer["text"])
            assert "Arabic" not in answer["text"]
            assert button_data(answer, "Persian original") == f"orig:{ids['persian']}"
            before = len(tg.sent(READER))
            await press(tg, READER, answer["message_id"], f"orig:{ids['persian']}")
            [original] = await sent_after(tg, before)
            assert original["raw_text"] == render_original(persian, TelegramHTML())[0]
            assert original["text"].startswith(f"Persian original\n{RLM}{PERSIAN_TITLE}\n")

    asyncio.run(scenario())


def test_an_arabic_search_with_a_broken_query_is_answered_in_arabic(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tg.set_language(READER, "ar")
            nothing = await say(tg, "/search -كرة since:7d")
            assert nothing["text"] == (
                f"لا كلمات يُبحث عنها في ذلك. جرّب مثلًا {LRI}/search{PDI} البنك المركزي.")
            long = await say(tg, "/search " + "اقتصاد " * 40)
            assert long["text"] == f"هذا البحث طويل جدًا (الحد الأقصى {isolated('200')} حرف)."
            found = await say(tg, "/search زلزال -source:bbc since:yesterday")
            text = found["text"]
            assert f"«{isolated('-source:bbc')}»: لا يُستبعد إلا الكلمات والعبارات." in text
            assert f"«{isolated('since:yesterday')}» ليس تاريخًا ولا مدة مثل 7d." in text
            assert "only words" not in text and "is not a date" not in text

    asyncio.run(scenario())


def test_the_terminal_and_english_stay_english() -> None:
    query = parse_query("bank -football source:bbc source:sky since:yesterday", NOW)
    assert query.problems == ('"since:yesterday" is not a date or an age like 7d.',)
    assert query.describe() == "bank · not football · source: bbc or sky"
    arabic = query.describe(_arabic())
    assert arabic.startswith(f"bank · باستثناء {isolated('football')} · المصدر: ")
    assert "أو" in arabic
    assert query_problem("-x") == ("There are no words to search for in that. Try e.g. "
                                   "/search central bank.")
    turkish = stored_plainly(language="tr")
    text = "\n".join(render_article(turkish, PlainText(), NOW))
    assert "shown in Turkish." in text
    assert render_original(turkish, PlainText())[0].startswith("Turkish original\n")
    unknown = stored_plainly(language="xx")
    assert render_original(unknown, PlainText())[0].startswith("xx original\n")
    assert language_name("xx") == "xx" and language_name("fa", _arabic()) == "الفارسية"


def test_a_digest_of_persian_stories_says_so() -> None:
    english = render_header(PlainText(), NOW, "UTC", 2, 5, sources=["fa", "ar"])
    assert "2 of 5 stories translated from Persian and Arabic, most widely" in english
    assert "from Arabic" in render_header(PlainText(), NOW, "UTC", 2, sources=["ar"])
    arabic = render_header(PlainText(), NOW, "UTC", 3, sources=["fa"], language="ar")
    assert f"أخبار مترجمة عن {isolated('الفارسية')}" in arabic


def stored_plainly(language: str) -> StoredArticle:
    return StoredArticle(
        id=7, feed_id=1, feed_name="Haber", url="https://example.org/t", published=NOW,
        fetched=NOW, language=language, title_original="Ekmek fiyatları arttı",
        text_original="Fırıncılar fiyatları artırdı.", title_translated="Bread prices rise",
        text_translated=f"Bakers raised prices. {ARABIC_SENTENCE}", lead="",
        model=f"{language}-en@1.0", untranslated=True)


def _arabic() -> Any:
    from bot.i18n import gettext_for

    return gettext_for("ar")
