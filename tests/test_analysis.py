"""The shared text analyser: folding, tokens, light stems, and chat filter word matching."""

from __future__ import annotations

import pytest

from bot.analysis import TextIndex, arabic_stem, fold, stem_variants, strip_arabic_prefix, words


def test_fold_removes_diacritics_tatweel_and_letter_variants() -> None:
    assert fold("الحُكُومَة") == fold("الحكومه") == "الحكومه"
    assert fold("إعـــلان") == fold("اعلان")
    assert fold("مستشفى") == fold("مستشفي")
    assert fold("Gaza CITY") == "gaza city"


def test_words_split_on_word_boundaries_and_fold_digits() -> None:
    assert words("قال: إنّ التضخم بلغ ٥٫٢٥ في المئة عام ٢٠٢٦، مقابل 4.4!") == [
        "قال", "ان", "التضخم", "بلغ", "5.25", "في", "المئه", "عام", "2026", "مقابل", "4.4"]
    assert words("بـ137 ألف برميل") == ["ب", "137", "الف", "برميل"]
    assert words("U.S. Gaza's (BBC)") == ["u", "s", "gaza", "s", "bbc"]
    assert words("۱۲۳ و١٢٣") == ["123", "و", "123"]


@pytest.mark.parametrize("forms", [
    ("والحكومة", "الحكومة", "حكومة", "للحكومات", "حكومتها", "وبالحكومة"),
    ("البرلمان", "برلمان", "للبرلمان", "والبرلمان", "برلماني"),
    ("المتظاهرين", "متظاهرون", "والمتظاهرون", "للمتظاهرين"),
    ("الانتخابات", "انتخابات", "الانتخابية", "بالانتخابات"),
    ("المستشفى", "مستشفيات", "بالمستشفيات"),
    ("الاقتصاد", "اقتصادي", "الاقتصادية", "الاقتصاديين"),
    ("الوزارة", "وزارة", "والوزارة"),
])
def test_inflections_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({arabic_stem(form) for form in forms}) == 1, [arabic_stem(f) for f in forms]


def test_short_words_are_not_destroyed() -> None:
    for word in ("بنك", "عمان", "كتب", "صوت", "وزير", "بيت"):
        assert len(arabic_stem(word)) >= 3, word
    assert arabic_stem("بنك") == arabic_stem("البنك") == "بنك"


def test_different_words_keep_different_stems() -> None:
    assert arabic_stem("الزلزال") != arabic_stem("البرلمان")
    assert arabic_stem("الحكومة") != arabic_stem("الحكم")


def test_a_bare_clitic_is_a_second_reading_not_the_stem() -> None:
    # A word starting with و ب ل may or may not carry a clitic: both readings are kept.
    assert stem_variants("وزارة")[0] == arabic_stem("الوزارة")
    assert arabic_stem("الوزارة") in stem_variants("ووزارة")
    assert arabic_stem("البرلمان") in stem_variants("برلمان")
    assert arabic_stem("للبنان") in stem_variants("ولبنان")
    assert stem_variants("الحكومة") == (arabic_stem("الحكومة"),)


def test_strip_arabic_prefix_removes_only_clitics_and_the_article() -> None:
    assert strip_arabic_prefix("والحكومة") == "حكومه"
    assert strip_arabic_prefix("للحكومات") == "حكومات"
    assert strip_arabic_prefix("فبالتعاون") == "تعاون"
    assert strip_arabic_prefix("وزير") == "زير"      # و could be a clitic: the caller decides
    assert strip_arabic_prefix("بنك") == "بنك"       # too short to lose a letter
    assert strip_arabic_prefix("حكومتها") == "حكومتها"  # suffixes are not prefixes


@pytest.mark.parametrize("text", [
    "قالت الحكومة إن", "وقالت والحكومة", "رسالة للحكومة الجديدة", "حكومةٌ جديدة",
    "بالحكومة", "وللحكومة", "الحـكـومة", "الحكومه",
])
def test_an_arabic_word_matches_with_clitics_and_spelling_variants(text: str) -> None:
    assert TextIndex([text]).find(["حكومة"]) == "حكومة"
    assert TextIndex([text]).find(["الحكومة"]) == "الحكومة"


def test_find_word_needs_word_boundaries() -> None:
    assert TextIndex(["حكومات متعاقبة"]).find(["حكومة"]) is None
    assert TextIndex(["الحكومة"]).find(["كم"]) is None
    assert TextIndex(["Gazastadt"]).find(["gaza"]) is None
    assert TextIndex(["Interest rates rise", "separate"]).find(["rate"]) is None
    assert TextIndex(["Strikes on GAZA city"]).find(["Gaza"]) == "Gaza"


def test_find_word_returns_the_first_entry_found_as_given() -> None:
    texts = ["زلزال يضرب تركيا", "Earthquake hits Turkey"]
    assert TextIndex(texts).find(["Flood", "تركيا", "earthquake"]) == "تركيا"
    assert TextIndex(texts).find(["سيول", "فيضان"]) is None
    assert TextIndex(texts).find([]) is None
    assert TextIndex(texts).find(["!!!", ""]) is None


def test_a_phrase_matches_consecutive_words() -> None:
    text = "وافق ومجلس النواب على الموازنة"
    assert TextIndex([text]).find(["مجلس النواب"]) == "مجلس النواب"
    assert TextIndex([text]).find(["مجلس الأعيان"]) is None
    assert TextIndex([text]).find(["النواب مجلس"]) is None
    assert TextIndex(["The Central  Bank said"]).find(["central bank"]) == "central bank"
    # Not across two texts (title and body).
    assert TextIndex(["اجتماع مجلس", "النواب"]).find(["مجلس النواب"]) is None


def test_user_words_are_never_patterns() -> None:
    assert TextIndex(["أي نص"]).find([".*"]) is None
    assert TextIndex(["a or b"]).find(["(a|b)"]) is None  # tokenised: "a", "b" not consecutive
    assert TextIndex(["a b"]).find(["a+b"]) == "a+b"      # same words, punctuation ignored


def test_fifty_words_against_hundreds_of_articles() -> None:
    body = ("أعلنت الحكومة اليوم عن خطة لتوسيع شبكة النقل العام في العاصمة تشمل ثلاثة خطوط "
            "جديدة للحافلات السريعة ومحطة مركزية قرب المطار. ") * 8
    articles = [[f"عنوان الخبر رقم {i}", body + f" رقم{i}"] for i in range(400)]
    chat_words = [f"كلمة{i}" for i in range(49)] + ["المطار"]
    found = [TextIndex(texts).find(chat_words) for texts in articles]
    assert found == ["المطار"] * 400
