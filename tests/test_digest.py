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
    render_digest,
    visible_length,
)
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


def test_plain_and_html_share_wording() -> None:
    articles = [stored(1), stored(2)]
    plain = "\n".join(render_digest(articles, PlainText(), now=NOW))
    tg = "\n".join(render_digest(articles, TelegramHTML(), now=NOW))
    assert "Talks resume <1> & more" in plain
    assert "https://example.org/a?id=1&x=<1>" in plain
    assert "<b>Talks resume &lt;1&gt; &amp; more</b>" in tg
    assert 'href="https://example.org/a?id=1&amp;x=&lt;1&gt;"' in tg
    assert "Lead sentence 1. Second sentence." in plain and "Lead sentence 1." in tg
    assert f"{FSI}الجزيرة نت{PDI} · 30 min ago" in plain
    assert "Nashra digest — Fri 20 Nov 2026, 08:00 (UTC)" in plain


def test_header_uses_chat_timezone() -> None:
    text = render_digest([stored(1)], PlainText(), now=NOW, timezone="Asia/Riyadh")[0]
    assert "11:00 (Asia/Riyadh)" in text


def test_untranslated_and_other_language_are_marked() -> None:
    partly = render_digest([stored(1, untranslated=True)], PlainText(), now=NOW)[0]
    other = render_digest([stored(1, language="und", title_translated="",
                                  title_original="Breaking: English wire")], PlainText(), now=NOW)
    assert "(partly untranslated)" in partly
    assert "Breaking: English wire" in other[0] and "(original language)" in other[0]


def test_only_allowed_tags_and_balanced() -> None:
    tg = "\n".join(render_digest([stored(n) for n in range(1, 6)], TelegramHTML(), now=NOW))
    tags = re.findall(r"</?([a-z]+)", tg)
    assert set(tags) <= {"a", "b", "i"}
    for tag in ("a", "b", "i"):
        assert tg.count(f"<{tag}") == tg.count(f"</{tag}>")


@pytest.mark.parametrize("markup", [PlainText(), TelegramHTML()])
def test_split_at_item_boundaries_under_limit(markup: PlainText | TelegramHTML) -> None:
    long_lead = "Emoji 🇪🇬 and ampersands & " * 12
    articles = [stored(n, lead=long_lead) for n in range(1, 60)]
    messages = render_digest(articles, markup, now=NOW)
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
    messages = render_digest([giant], TelegramHTML(), now=NOW)
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
