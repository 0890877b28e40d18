"""/read in the bot: the real python-telegram-bot client against the fake Bot API server,
which parses HTML and counts lengths strictly, like Telegram."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from support.bot_harness import READER, BotSite, button_data, press, running_bot, say
from support.fake_telegram import DEFAULT_BOT_USERNAME, FakeTelegram

from bot.cli import main
from bot.digest import TelegramHTML
from bot.models import Article
from bot.reader import (
    MAX_ARTICLE_ID,
    NOT_TRANSLATED,
    ORIGINAL_LANGUAGE_NOTE,
    RLM,
    render_article,
    render_original,
)
from bot.store import Store, StoredArticle
from bot.telegram.common import INVALID_BUTTON
from bot.telegram.reading import USAGE

GROUP = -200600
ARABIC_SENTENCE = "قال الوزير إن المحادثات ستستأنف الأسبوع المقبل."
USAGE_TEXT = re.sub(r"<[^>]+>", "", USAGE)


def english(n: int) -> str:
    return " ".join(f"Paragraph {n}, sentence {k}: the talks went on through the night and "
                    "the delegations agreed to meet again." for k in range(9))


def article(feed_id: int, key: str, **fields: Any) -> Article:
    now = datetime.now(UTC)
    values: dict[str, Any] = dict(
        feed_id=feed_id, key=key, url=f"https://example.org/{key}?a=1&b=2",
        canonical_url=f"https://example.org/{key}", published=now - timedelta(days=3),
        fetched=now, language="ar", title_original="عنوان الخبر",
        text_original=ARABIC_SENTENCE, title_translated=f"Story {key}",
        text_translated="One short paragraph.", model="ar-en@1.0")
    values.update(fields)
    return Article(**values)


def add_articles(site: BotSite) -> dict[str, int]:
    """A long partly untranslated article, a hostile one and one not in Arabic; their ids."""
    paragraphs = [english(n) for n in range(14)]
    paragraphs[2] += f" {ARABIC_SENTENCE} The rest was translated."
    with site.store() as store:
        feed_id = store.feeds()[0].id
        ids = store.insert_articles([
            article(feed_id, "long", text_translated="\n\n".join(paragraphs),
                    text_original="\n\n".join([" ".join([ARABIC_SENTENCE] * 12)] * 14),
                    untranslated=True),
            article(feed_id, "hostile", title_translated="<b>Bold</b> &amp; \ue000 & co",
                    text_translated="A <script>x</script> & &amp; \ue000 <i>unclosed",
                    title_original="<b>عنوان</b> &amp;", text_original="نص <a> & \ue000"),
            article(feed_id, "french", language="und", title_original="Bonjour",
                    text_original="Le texte.", title_translated="", text_translated=""),
        ])
    return dict(zip(["long", "hostile", "french"], ids, strict=True))


def stored_article(site: BotSite, article_id: int) -> StoredArticle:
    with site.store() as store:
        found = store.get_article(article_id)
    assert found is not None
    return found


async def send(tg: FakeTelegram, text: str, count: int, chat: int = READER,
               **kw: Any) -> list[dict[str, Any]]:
    """Send ``text`` as a user; the bot's next ``count`` messages in that chat."""
    before = len(tg.sent(chat))
    tg.push_message(chat, text, **kw)
    return (await tg.wait_for_messages_async(chat, before + count))[before:]


def test_read_tap_sends_the_whole_article_then_the_arabic_original(site: BotSite) -> None:
    ids = add_articles(site)
    long = stored_article(site, ids["long"])
    expected = render_article(long, TelegramHTML(), datetime.now(UTC))
    arabic = render_original(long, TelegramHTML())
    assert len(expected) >= 3 and len(arabic) >= 2

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            parts = await send(tg, f"/read_{ids['long']}", len(expected))
            assert [p["raw_text"] for p in parts] == expected
            assert all(p["reply_markup"] is None for p in parts[:-1])
            assert button_data(parts[-1], "Arabic original") == f"orig:{ids['long']}"
            shown = "\n\n".join(p["text"] for p in parts)
            assert shown.startswith(f"Story long\n\u2068{site.settings.feeds[0].name}")
            for n in range(14):  # each paragraph whole inside one message
                assert sum(f"Paragraph {n}, sentence 0" in p["text"] for p in parts) == 1
                assert sum(f"Paragraph {n}, sentence 8" in p["text"] for p in parts) == 1
            assert f"{NOT_TRANSLATED} \u2068{ARABIC_SENTENCE}\u2069" in shown
            assert any(e["type"] == "italic" for e in parts[0]["entities"])

            before = len(tg.sent(READER))
            await press(tg, READER, parts[-1]["message_id"], f"orig:{ids['long']}")
            await tg.wait_for_async(lambda: len(tg.sent(READER)) >= before + len(arabic))
            await asyncio.sleep(0.3)  # nothing more after the original
            original = tg.sent(READER)[before:]
            assert [m["raw_text"] for m in original] == arabic
            assert original[0]["text"].startswith(
                f"Arabic original\n{RLM}عنوان الخبر\n")
            assert all(m["reply_markup"] is None for m in original)
            body = "\n\n".join(m["text"] for m in original).split("\n\n")[1:]
            assert body == [RLM + " ".join([ARABIC_SENTENCE] * 12)] * 14

    asyncio.run(scenario())


def test_read_command_forms_and_bad_ids(site: BotSite, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = add_articles(site)
    looked_up: list[int] = []
    real_get = Store.get_article

    def spy(store: Store, article_id: int) -> Any:
        looked_up.append(article_id)
        return real_get(store, article_id)

    monkeypatch.setattr(Store, "get_article", spy)

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            [answer] = await send(tg, f"/read {ids['french']}", 1)
            assert answer["text"].startswith("Bonjour\n")
            assert ORIGINAL_LANGUAGE_NOTE in answer["text"] and answer["reply_markup"] is None
            [answer] = await send(tg, f"/read@{DEFAULT_BOT_USERNAME} {ids['french']}", 1)
            assert answer["text"].startswith("Bonjour\n")
            for text in ["/read", "/read abc", "/read 1 2", "/read -3", "/read_١٢",
                         "/read 1234567890123"]:
                assert (await say(tg, text))["text"] == USAGE_TEXT, text
            assert (await say(tg, "/read 99999"))["text"] == "No article 99999."
            looked_up.clear()
            too_big = MAX_ARTICLE_ID + 1
            assert (await say(tg, f"/read_{too_big}"))["text"] == f"No article {too_big}."
            assert (await say(tg, "/read 0"))["text"] == "No article 0."
            assert looked_up == []  # refused without a query
            assert "/help" in (await say(tg, "/read_x"))["text"]  # not the tap form

    asyncio.run(scenario())


def test_read_in_a_group_and_buttons_that_do_not_resolve(site: BotSite) -> None:
    ids = add_articles(site)

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            tap = f"/read_{ids['french']}@{DEFAULT_BOT_USERNAME}"
            [answer] = await send(tg, tap, 1, chat=GROUP)
            assert answer["text"].startswith("Bonjour\n")
            tg.push_message(GROUP, f"/read_{ids['french']}@some_other_bot")
            assert (await say(tg, "/read 0", chat=GROUP))["text"] == "No article 0."
            [answer] = await send(tg, f"/read_{ids['hostile']} please", 1)
            alert = await press(tg, READER, answer["message_id"], "orig:abc", check_button=False)
            assert alert["text"] == INVALID_BUTTON and alert["show_alert"]
            alert = await press(tg, READER, answer["message_id"], "orig:99999",
                                check_button=False)
            assert alert["text"] == "No article 99999." and alert["show_alert"]

    asyncio.run(scenario())


def test_hostile_article_text_is_shown_literally(site: BotSite) -> None:
    ids = add_articles(site)

    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            [answer] = await send(tg, f"/read_{ids['hostile']}", 1)
            assert answer["text"].startswith("<b>Bold</b> &amp; \ue000 & co\n")
            assert "A <script>x</script> & &amp; \ue000 <i>unclosed" in answer["text"]
            assert {e["type"] for e in answer["entities"]} <= {"bold", "italic", "text_link"}
            link = next(e for e in answer["entities"] if e["type"] == "text_link")
            assert link["url"] == "https://example.org/hostile?a=1&b=2"
            before = len(tg.sent(READER))
            await press(tg, READER, answer["message_id"], f"orig:{ids['hostile']}")
            [original] = (await tg.wait_for_messages_async(READER, before + 1))[before:]
            assert original["text"].endswith(f"{RLM}نص <a> & \ue000")
            assert f"{RLM}<b>عنوان</b> &amp;" in original["text"]

    asyncio.run(scenario())


def test_search_results_open_with_read_links(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site):
            tg = site.telegram
            results = await say(tg, "/search في")
            found = re.findall(r"^\d+\. (.+)\n.* · /read_(\d+)$", results["text"], re.M)
            assert len(found) == 5
            title, article_id = found[0]
            [answer] = await send(tg, f"/read_{article_id}", 1)
            assert answer["text"].startswith(title + "\n")
            assert button_data(answer, "Arabic original") == f"orig:{article_id}"

    asyncio.run(scenario())


def test_nashra_read_prints_the_article_or_its_original(site: BotSite) -> None:
    ids = add_articles(site)
    config = ["--config", str(site.config)]
    english = CliRunner().invoke(main, [*config, "read", str(ids["long"])])
    assert english.exit_code == 0, english.output
    assert english.stdout.startswith("Story long\n   https://example.org/long?a=1&b=2\n")
    assert f"{NOT_TRANSLATED} \u2068{ARABIC_SENTENCE}\u2069" in english.stdout
    assert english.stdout.count("Paragraph 13, sentence 8") == 1
    hostile = CliRunner().invoke(main, [*config, "read", str(ids["hostile"]), "--original"])
    assert hostile.exit_code == 0, hostile.output
    assert hostile.stdout.startswith(f"Arabic original\n{RLM}<b>عنوان</b> &amp;\n")
    for unknown in ["99999", str(MAX_ARTICLE_ID + 1)]:
        missing = CliRunner().invoke(main, [*config, "read", unknown])
        assert missing.exit_code == 1
        assert missing.stderr == f"No article {unknown}.\n" and missing.stdout == ""
