"""The analysis the search index is written with, pinned.

The index is contentless: the store removes an article from it by computing its analysis
again (bot/store/index.py). If this test fails because the analysis changed on purpose,
add a migration that rebuilds ``search_index`` (see schema 10 in bot/store/migrations.py),
then update the expected values here.
"""

from __future__ import annotations

from bot.store.index import index_row

ARTICLE = {
    "id": 7,
    "title_translated": "Elections: the government meets in Cairo",
    "lead": "The cabinet met.",
    "text_translated": "Ministers said the elections would be held in 2027.",
    "title_original": "الحكومةُ تجتمع في القاهرة للانتخابات",
    "text_original": "وقال الوزراء إن الانتخابات ستُجرى عام ٢٠٢٧ وللحكومات دورٌ في ذلك.",
}


def test_index_row_of_an_article_is_pinned() -> None:
    assert index_row(ARTICLE) == {
        "id": 7,
        "title_en": "Elections: the government meets in Cairo",
        "lead_en": "The cabinet met.",
        "text_en": "Ministers said the elections would be held in 2027.",
        "title_ar": "الحكومه تجتمع في القاهره للانتخابات",
        "text_ar": "وقال الوزراء ان الانتخابات ستجري عام ٢٠٢٧ وللحكومات دور في ذلك.",
        "title_stems": "elect govern meet cairo حكوم تجتمع قاهر انتخاب",
        "text_stems": "minist elect held 2027 وقال وزراء انتخاب ستجر 2027 حكوم دور",
    }


def test_an_article_first_written_in_english_has_its_stems_once() -> None:
    english = dict(ARTICLE, title_original=ARTICLE["title_translated"],
                   text_original=ARTICLE["text_translated"])
    row = index_row(english)
    assert row["title_stems"] == "elect govern meet cairo"
    assert row["title_ar"] == "Elections: the government meets in Cairo"
