"""Reading one article in full: the pure rendering of bot.reader, in both formats."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from support.fake_telegram import parse_html, trim_text, utf16_len

from bot.digest import FSI, PDI, TELEGRAM_LIMIT, PlainText, TelegramHTML, visible_length
from bot.reader import (
    MAX_ARTICLE_ID,
    NO_TEXT,
    NOT_TRANSLATED,
    ORIGINAL_LANGUAGE_NOTE,
    PARTLY_TRANSLATED_NOTE,
    RLM,
    is_translated,
    render_article,
    render_original,
    valid_article_id,
)
from bot.store import StoredArticle

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ARABIC_SENTENCE = "قال الوزير إن المحادثات ستستأنف الأسبوع المقبل."
ARABIC_PARAGRAPH = "أعلن البنك المركزي اليوم خفض سعر الفائدة. وقال محافظ البنك إن القرار مؤقت."


def stored(**changes: object) -> StoredArticle:
    values: dict[str, object] = dict(
        id=42, feed_id=1, feed_name="الوكالة التجريبية", url="https://example.org/a?id=42&x=1",
        published=NOW - timedelta(hours=3), fetched=NOW, language="ar",
        title_original="البنك المركزي يخفض الفائدة", text_original=ARABIC_PARAGRAPH,
        title_translated="Central bank cuts rates",
        text_translated="The central bank cut rates today.\n\nThe governor said it is temporary.",
        lead="", model="ar-en@1.0", untranslated=False)
    values.update(changes)
    return StoredArticle(**values)  # type: ignore[arg-type]


def parsed(message: str) -> tuple[str, list[dict[str, object]]]:
    """The message as Telegram shows it (strict HTML parsing, then trimming)."""
    return trim_text(*parse_html(message))


def english_paragraph(n: int, sentences: int = 12) -> str:
    return " ".join(f"Paragraph {n} sentence {k} says something long enough to matter "
                    "for the length of the article." for k in range(sentences))


def test_header_has_title_link_source_and_date_then_the_text() -> None:
    [message] = render_article(stored(), TelegramHTML(), NOW)
    text, entities = parsed(message)
    assert text.splitlines()[:2] == [
        "Central bank cuts rates",
        f"{FSI}الوكالة التجريبية{PDI} · 20 Nov 2026, 05:00 UTC (3 h ago)"]
    assert text.endswith("The central bank cut rates today.\n\nThe governor said it is "
                         "temporary.")
    link = next(e for e in entities if e["type"] == "text_link")
    assert link["url"] == "https://example.org/a?id=42&x=1"
    assert NOT_TRANSLATED not in text and PARTLY_TRANSLATED_NOTE not in text


def test_the_date_follows_the_timezone_and_old_articles_show_no_age() -> None:
    old = stored(published=NOW - timedelta(days=30))
    [message] = render_article(old, PlainText(), NOW, timezone="Asia/Riyadh")
    assert "· 21 Oct 2026, 11:00 Asia/Riyadh\n" in message


def test_long_article_splits_only_between_paragraphs() -> None:
    paragraphs = [english_paragraph(n) for n in range(12)]
    article = stored(text_translated="\n\n".join(paragraphs))
    messages = render_article(article, TelegramHTML(), NOW)
    assert len(messages) >= 3
    shown = []
    for message in messages:
        text, _entities = parsed(message)
        assert utf16_len(text) <= TELEGRAM_LIMIT
        assert visible_length(message, TelegramHTML()) <= TELEGRAM_LIMIT
        shown.extend(text.split("\n\n"))
    assert shown[-len(paragraphs):] == paragraphs  # every paragraph whole, in order


def test_a_paragraph_over_the_limit_splits_between_sentences() -> None:
    huge = english_paragraph(1, sentences=80)  # ~9,000 characters in one paragraph
    messages = render_article(stored(text_translated=huge), TelegramHTML(), NOW)
    texts = [parsed(m)[0] for m in messages]
    assert len(texts) >= 3 and all(utf16_len(t) <= TELEGRAM_LIMIT for t in texts)
    pieces = [t.split("\n\n")[-1] for t in texts if "Paragraph" in t]
    assert len(pieces) >= 2
    assert all(p.endswith("article.") for p in pieces)  # cut only after a sentence
    assert " ".join(pieces) == huge


def test_astral_characters_count_twice_towards_the_limit() -> None:
    emoji_paragraphs = ["🌍" * 1500 + ".", "🌍" * 1500 + "."]  # 3,001 units each
    article = stored(text_translated="\n\n".join(emoji_paragraphs))
    messages = render_article(article, TelegramHTML(), NOW)
    assert len(messages) == 2
    assert all(utf16_len(parsed(m)[0]) <= TELEGRAM_LIMIT for m in messages)


def test_a_sentence_over_a_small_limit_is_cut_at_words_outside_markup() -> None:
    article = stored(text_translated="Fish & chips <b>are</b> served " * 20)
    messages = render_article(article, TelegramHTML(), NOW, limit=120)
    assert len(messages) > 5
    words = []
    for message in messages:
        text, _entities = parsed(message)  # no cut inside an entity such as &amp;
        assert utf16_len(text) <= 120
        words += text.split()
    assert " ".join(words).endswith(("Fish & chips <b>are</b> served " * 20).strip())


def test_untranslated_sentences_are_marked_and_isolated() -> None:
    text = f"The minister spoke. {ARABIC_SENTENCE} Talks continue.\n\nAll else is English."
    [message] = render_article(stored(text_translated=text), TelegramHTML(), NOW)
    shown, entities = parsed(message)
    assert PARTLY_TRANSLATED_NOTE % {"language": "Arabic"} in shown
    expected = f"The minister spoke. {NOT_TRANSLATED} {FSI}{ARABIC_SENTENCE}{PDI} Talks continue."
    assert expected in shown
    marker_at = utf16_len(shown[:shown.index(expected)]) + len("The minister spoke. ")
    assert {"type": "italic", "offset": marker_at, "length": len(NOT_TRANSLATED)} in entities
    assert shown.count(NOT_TRANSLATED) == 1
    plain = "\n".join(render_article(stored(text_translated=text), PlainText(), NOW))
    assert f"{NOT_TRANSLATED} {FSI}{ARABIC_SENTENCE}{PDI}" in plain


def test_an_untranslated_title_is_marked_too() -> None:
    article = stored(title_translated="البنك المركزي يخفض الفائدة")
    shown, _entities = parsed(render_article(article, TelegramHTML(), NOW)[0])
    assert shown.startswith(f"{NOT_TRANSLATED} البنك المركزي")
    assert PARTLY_TRANSLATED_NOTE % {"language": "Arabic"} in shown


@pytest.mark.parametrize("language", ["und", "en"])
def test_an_article_not_in_arabic_is_shown_as_it_is_with_a_note(language: str) -> None:
    article = stored(language=language, title_original="Bonjour", text_original="Le texte.",
                     title_translated="", text_translated="")
    assert not is_translated(article)
    [message] = render_article(article, TelegramHTML(), NOW)
    shown, _entities = parsed(message)
    assert shown.startswith("Bonjour\n") and shown.endswith("Le texte.")
    assert ORIGINAL_LANGUAGE_NOTE in shown and NOT_TRANSLATED not in shown


def test_hostile_feed_text_is_escaped_everywhere() -> None:
    article = stored(
        feed_name="<b>Feed</b> & co", url='https://example.org/?q="x"&y=<z>',
        title_translated="<b>Bold</b> &amp; \ue000 title",
        text_translated="A <script>x</script> & &amp; \ue000\ue001 para.\n\n"
                        f"<i>Unclosed {ARABIC_SENTENCE} &lt;",
        title_original="<a href='x'>عنوان</a>", text_original="نص <b> & &amp; \ue000")
    for message in [*render_article(article, TelegramHTML(), NOW),
                    *render_original(article, TelegramHTML())]:
        shown, entities = parsed(message)  # strict: a stray & or < would raise
        assert {e["type"] for e in entities} <= {"bold", "italic", "text_link"}
    shown = parsed(render_article(article, TelegramHTML(), NOW)[0])[0]
    for literal in ("<b>Bold</b> &amp; \ue000 title", "<b>Feed</b> & co",
                    "A <script>x</script> & &amp; \ue000\ue001 para.", "<i>Unclosed"):
        assert literal in shown
    assert "نص <b> & &amp; \ue000" in parsed(render_original(article, TelegramHTML())[0])[0]


def test_original_is_right_to_left_line_by_line_and_split_the_same_way() -> None:
    text = "\n\n".join([ARABIC_PARAGRAPH, "CNN: " + ARABIC_SENTENCE + "\n2026 " + ARABIC_SENTENCE,
                        " ".join([ARABIC_SENTENCE] * 120)])
    messages = render_original(stored(text_original=text), TelegramHTML())
    assert len(messages) == 3
    first, _entities = parsed(messages[0])
    assert first.startswith("Arabic original\n" + RLM + "البنك المركزي يخفض الفائدة\n")
    assert f"\n\n{RLM}CNN: {ARABIC_SENTENCE}\n{RLM}2026 {ARABIC_SENTENCE}" in first
    for message in messages:
        shown, _entities = parsed(message)
        assert utf16_len(shown) <= TELEGRAM_LIMIT
        assert all(line.startswith(RLM) for line in shown.split("\n")[3:] if line)
    tail = [parsed(m)[0].split("\n\n")[-1] for m in messages[1:]]
    assert all(re.fullmatch(rf"{RLM}(\S.*\.)", t, re.S) for t in tail)


def test_plain_text_has_no_markup_and_the_url_on_its_own_line() -> None:
    text = "\n".join(render_article(stored(title_translated="A <b> & B"), PlainText(), NOW))
    assert text.startswith("A <b> & B\n   https://example.org/a?id=42&x=1\n")
    assert "<i>" not in text and "&amp;" not in text
    original = "\n".join(render_original(stored(), PlainText()))
    assert f"{RLM}{ARABIC_PARAGRAPH}" in original


def test_an_article_without_text_says_so() -> None:
    article = stored(text_translated="", text_original="")
    assert NO_TEXT in render_article(article, PlainText(), NOW)[0]
    assert NO_TEXT in render_original(article, PlainText())[0]


def test_only_sane_ids_are_worth_a_query() -> None:
    assert valid_article_id(1) and valid_article_id(MAX_ARTICLE_ID)
    assert not valid_article_id(0) and not valid_article_id(MAX_ARTICLE_ID + 1)
