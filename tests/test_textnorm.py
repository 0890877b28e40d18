"""Sentence and paragraph splitting on real Arabic punctuation, plus the normalisers."""


from __future__ import annotations

import pytest

from bot.textnorm import (
    arabic_ratio,
    limit_length,
    normalize_arabic,
    normalize_sentence,
    split_paragraphs,
    split_sentences,
)


def test_splits_after_full_stop_question_and_exclamation_marks() -> None:
    text = ("وصل الوفد إلى القاهرة صباح اليوم. هل تنجح المفاوضات؟ الجميع ينتظر! "
            "وتستمر المحادثات غداً.")
    assert split_sentences(text) == [
        "وصل الوفد إلى القاهرة صباح اليوم.",
        "هل تنجح المفاوضات؟",
        "الجميع ينتظر!",
        "وتستمر المحادثات غداً.",
    ]


def test_mixed_question_and_exclamation_marks_end_one_sentence() -> None:
    assert split_sentences("أهذا معقول؟! لا أحد يصدق.") == ["أهذا معقول؟!", "لا أحد يصدق."]


def test_line_breaks_end_sentences_even_without_punctuation() -> None:
    text = "عاجل: انفجار في الميناء\nأفادت مصادر محلية بسقوط جرحى"
    assert split_sentences(text) == ["عاجل: انفجار في الميناء", "أفادت مصادر محلية بسقوط جرحى"]


def test_decimals_are_not_split() -> None:
    text = "ارتفع التضخم إلى 3.5% في أيار. وانخفض الدينار 0.75 نقطة."
    assert split_sentences(text) == ["ارتفع التضخم إلى 3.5% في أيار.", "وانخفض الدينار 0.75 نقطة."]


@pytest.mark.parametrize("abbreviation", ["د.", "أ.", "م.", "هـ."])
def test_one_letter_arabic_abbreviations_do_not_end_a_sentence(abbreviation: str) -> None:
    text = f"صرّح {abbreviation} سامي الخطيب بأن الوضع مستقر. وأضاف أن الأسعار ستنخفض."
    assert split_sentences(text) == [
        f"صرّح {abbreviation} سامي الخطيب بأن الوضع مستقر.",
        "وأضاف أن الأسعار ستنخفض.",
    ]


def test_latin_initials_titles_and_dotted_forms_are_kept() -> None:
    text = "التقى الوزير بـ Dr. John F. Kennedy Jr. في مقر U.S. Congress أمس. ثم عاد."
    assert split_sentences(text) == [
        "التقى الوزير بـ Dr. John F. Kennedy Jr. في مقر U.S. Congress أمس.",
        "ثم عاد.",
    ]


def test_ellipses_do_not_split() -> None:
    text = "قال المتحدث إن الاتفاق... سيُوقَّع قريباً. ولم يذكر موعداً… محدداً."
    assert split_sentences(text) == [
        "قال المتحدث إن الاتفاق... سيُوقَّع قريباً.",
        "ولم يذكر موعداً… محدداً.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    text = "وقال الرئيس: «لن نتراجع.» ثم غادر القاعة. وأضاف \"هذا قرار نهائي!\" بحزم."
    assert split_sentences(text) == [
        "وقال الرئيس: «لن نتراجع.»",
        "ثم غادر القاعة.",
        'وأضاف "هذا قرار نهائي!"',
        "بحزم.",
    ]


def test_list_numbers_at_line_start_are_not_sentences() -> None:
    text = "1. رفع الدعم عن الوقود.\n2. زيادة الرواتب."
    assert split_sentences(text) == ["1. رفع الدعم عن الوقود.", "2. زيادة الرواتب."]


def test_arabic_semicolon_splits_only_long_sentences() -> None:
    short = "ارتفعت الأسعار؛ وانخفضت الأجور."
    assert split_sentences(short) == [short]
    first = "أعلنت الحكومة حزمة إجراءات اقتصادية تشمل دعم الخبز والوقود والأدوية " * 2
    second = "وقالت المعارضة إن هذه الإجراءات لا تكفي لمواجهة موجة الغلاء الحالية " * 2
    pieces = split_sentences(f"{first.strip()}؛ {second.strip()}.", max_chars=300)
    assert pieces == [first.strip() + "؛", second.strip() + "."]


def test_run_on_text_is_chunked_at_arabic_commas() -> None:
    clause = "وأكد المسؤول أن العمل مستمر في المشروع"
    text = "، ".join([clause] * 20)  # one 900-character sentence with no full stop
    pieces = split_sentences(text, max_chars=200)
    assert all(len(p) <= 200 for p in pieces)
    assert all(p.endswith("،") for p in pieces[:-1])
    assert " ".join(pieces) == text


def test_text_without_any_break_points_is_hard_cut() -> None:
    text = "ا" * 1000
    pieces = split_sentences(text, max_chars=300)
    assert [len(p) for p in pieces] == [300, 300, 300, 100]


def test_long_text_without_commas_is_chunked_at_spaces() -> None:
    text = " ".join(["كلمة"] * 200)
    pieces = split_sentences(text, max_chars=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == text


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n \n") == []
    assert split_paragraphs("") == []


def test_english_sentences_split_too() -> None:
    text = "The minister said prices rose 2.5%. Mr. Smith disagreed! Why? Nobody knows."
    assert split_sentences(text) == [
        "The minister said prices rose 2.5%.",
        "Mr. Smith disagreed!",
        "Why?",
        "Nobody knows.",
    ]


def test_paragraphs_split_at_blank_lines_only() -> None:
    text = "الفقرة الأولى.\nسطر ثانٍ فيها.\n\n  \nالفقرة الثانية.\r\n\r\nالفقرة الثالثة."
    assert split_paragraphs(text) == [
        "الفقرة الأولى.\nسطر ثانٍ فيها.",
        "الفقرة الثانية.",
        "الفقرة الثالثة.",
    ]


def test_normalize_arabic_folds_spelling_variants() -> None:
    assert normalize_arabic("أَحْمَد إلى مدرسةٍ") == normalize_arabic("احمد الي مدرسه")
    assert normalize_arabic("جـــميل") == "جميل"


def test_normalize_sentence_keeps_diacritics_but_collapses_spaces() -> None:
    assert normalize_sentence("  عَلِمَ   الـطالب \n") == "عَلِمَ الطالب"


def test_arabic_ratio() -> None:
    assert arabic_ratio("hello") == 0.0
    assert arabic_ratio("مرحبا") == 1.0
    assert arabic_ratio("123 ...") == 0.0


def test_limit_length_cuts_only_over_long_sentences() -> None:
    short = "وصل الوفد إلى القاهرة."
    clause = "وأكد المسؤول أن العمل مستمر في المشروع"
    long = "، ".join([clause] * 12) + "."
    pieces = limit_length([short, long], max_chars=150)
    assert pieces[0] == short
    assert len(pieces) > 2 and all(len(p) <= 150 for p in pieces)
    assert " ".join(pieces[1:]) == long


def test_arabic_comma_and_semicolon_do_not_end_short_sentences() -> None:
    text = "التقى الوزيران، وبحثا التعاون؛ ثم عقدا مؤتمراً صحفياً. وغادر الوفد مساءً."
    assert split_sentences(text) == ["التقى الوزيران، وبحثا التعاون؛ ثم عقدا مؤتمراً صحفياً.",
                                     "وغادر الوفد مساءً."]


def test_arabic_question_mark_inside_quotes() -> None:
    text = "وتساءل المحلل: «هل تصمد الهدنة؟» وأجاب بأن الأمر صعب. انتهى."
    assert split_sentences(text) == ["وتساءل المحلل: «هل تصمد الهدنة؟»",
                                     "وأجاب بأن الأمر صعب.", "انتهى."]
