"""Digest rendering: plain and Telegram HTML from one code path, escaping, splitting."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.digest import (
    FSI,
    PDI,
    TELEGRAM_LIMIT,
    PlainText,
    TelegramHTML,
    relative_time,
    render_alert,
    render_digest,
    visible_length,
)
from bot.selection import Story
from bot.store import StoredArticle

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def stored(n: int, **changes: object) -> StoredArticle:
    values: dict[str, object] = dict(
        id=n, feed_id=1, feed_name="الجزيرة نت", url=f"https://example.org/a?id={n}&x=<1>",
        published=NOW - timedelta(minutes=30 * n), fetched=NOW, language="ar",
        title_original="عنوان", text_original="نص", title_translated=f"Talks resume <{n}> & more",
        text_translated="Full text.", lead=f"Lead sentence {n}. Second sentence.",
        model="ar-en@1.0", untranslated=False)
    values.update(changes)
    return StoredArticle(**values)  # type: ignore[arg-type]


def single(*articles: StoredArticle) -> list[Story]:
    """Each article its own story."""
    return [Story(a.id, (a,)) for a in articles]


def test_plain_and_html_share_wording() -> None:
    articles = [stored(1), stored(2)]
    plain = "\n".join(render_digest(single(*articles), PlainText(), now=NOW))
    tg = "\n".join(render_digest(single(*articles), TelegramHTML(), now=NOW))
    assert "Talks resume <1> & more" in plain
    assert "https://example.org/a?id=1&x=<1>" in plain
    assert "<b>Talks resume &lt;1&gt; &amp; more</b>" in tg
    assert 'href="https://example.org/a?id=1&amp;x=&lt;1&gt;"' in tg
    assert "Lead sentence 1. Second sentence." in plain and "Lead sentence 1." in tg
    assert f"{FSI}الجزيرة نت{PDI} · 30 min ago" in plain
    assert "Nashra digest — Fri 20 Nov 2026, 08:00 (UTC)" in plain


def test_header_uses_chat_timezone() -> None:
    text = render_digest(single(stored(1)), PlainText(), now=NOW, timezone="Asia/Riyadh")[0]
    assert "11:00 (Asia/Riyadh)" in text


def test_untranslated_and_other_language_are_marked() -> None:
    partly = render_digest(single(stored(1, untranslated=True)), PlainText(), now=NOW)[0]
    other = render_digest(single(stored(1, language="und", title_translated="",
                                         title_original="Breaking: English wire")),
                           PlainText(), now=NOW)
    assert "(partly untranslated)" in partly
    assert "Breaking: English wire" in other[0] and "(original language)" in other[0]


def test_only_allowed_tags_and_balanced() -> None:
    stories = single(*(stored(n) for n in range(1, 6)))
    tg = "\n".join(render_digest(stories, TelegramHTML(), now=NOW))
    tags = re.findall(r"</?([a-z]+)", tg)
    assert set(tags) <= {"a", "b", "i"}
    for tag in ("a", "b", "i"):
        assert tg.count(f"<{tag}") == tg.count(f"</{tag}>")


@pytest.mark.parametrize("markup", [PlainText(), TelegramHTML()])
def test_split_at_item_boundaries_under_limit(markup: PlainText | TelegramHTML) -> None:
    long_lead = "Emoji 🇪🇬 and ampersands & " * 12
    articles = [stored(n, lead=long_lead) for n in range(1, 60)]
    messages = render_digest(single(*articles), markup, now=NOW)
    assert len(messages) > 1
    for message in messages:
        assert visible_length(message, markup) <= TELEGRAM_LIMIT
    numbers = [int(m) for m in re.findall(r"^(\d+)\. ", "\n".join(messages), re.M)]
    assert numbers == list(range(1, 60))  # every item once, in order, none cut


def test_visible_length_counts_utf16_after_entities() -> None:
    assert visible_length("<b>a&amp;b</b>", TelegramHTML()) == 3
    assert visible_length("🇪🇬", PlainText()) == 4


def test_pathological_item_is_shortened_not_cut() -> None:
    giant = stored(1, lead="word " * 3000, title_translated="T" * 50)
    messages = render_digest(single(giant), TelegramHTML(), now=NOW)
    for message in messages:
        assert visible_length(message, TelegramHTML()) <= TELEGRAM_LIMIT
        assert message.count("<a ") == message.count("</a>")
    assert html.unescape("T" * 50) in "".join(messages)


def test_relative_time() -> None:
    assert relative_time(NOW, NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=12), NOW) == "12 min ago"
    assert relative_time(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert relative_time(NOW - timedelta(hours=30), NOW) == "yesterday"
    assert relative_time(NOW - timedelta(days=4), NOW) == "4 days ago"
    assert relative_time(NOW - timedelta(days=40), NOW) == "11 Oct 2026"


def test_story_item_lists_the_other_outlets_and_the_read_command() -> None:
    first = stored(1, feed_id=1, feed_name="الجزيرة نت")
    second = stored(2, feed_id=2, feed_name="BBC عربي", url="https://bbc.example/2?a=1&b=2")
    third = stored(3, feed_id=3, feed_name="DW <عربية>", url="https://dw.example/3")
    story = Story(1, (first, second, third))
    tg = render_digest([story], TelegramHTML(), now=NOW)[0]
    assert tg.count("<a ") == 3 and tg.count("/read_1") == 1
    assert (f'Also: <a href="https://bbc.example/2?a=1&amp;b=2">{FSI}BBC عربي{PDI}</a> · '
            f'<a href="https://dw.example/3">{FSI}DW &lt;عربية&gt;{PDI}</a>') in tg
    plain = render_digest([story], PlainText(), now=NOW)[0]
    assert "nashra read 1" in plain and "https://dw.example/3" in plain


def test_headline_comes_from_the_earliest_translated_article() -> None:
    foreign = stored(1, feed_id=1, language="und", title_translated="",
                     title_original="Wire in English")
    translated = stored(2, feed_id=2, title_translated="Translated headline")
    text = render_digest([Story(1, (foreign, translated))], PlainText(), now=NOW)[0]
    assert "1. Translated headline" in text and "/read" not in text
    assert "nashra read 2" in text and "Also: " in text


def test_overflow_is_announced_with_the_count() -> None:
    text = "\n".join(render_digest(single(stored(1), stored(2)), PlainText(), now=NOW, more=37))
    assert "2 of 39 stories translated from Arabic" in text
    assert text.rstrip().endswith("…and 37 more stories.")


def test_alert_names_the_word_and_escapes() -> None:
    alert = render_alert(single(stored(1))[0], "<bank>", TelegramHTML(), now=NOW)
    assert alert.startswith("<b>🔔 Alert: </b>“&lt;bank&gt;”")
    assert "/read_1" in alert and not re.search(r"^\d+\. ", alert, re.M)
