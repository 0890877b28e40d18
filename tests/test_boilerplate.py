"""Boilerplate rules: prompts, credits and furniture go; no story sentence is ever lost."""

from __future__ import annotations

import json

import pytest
from support.arabic_samples import (
    ARTICLES,
    NAIVE_EXTRACTOR_OUTPUT,
    NAIVE_EXTRACTOR_STORY,
    WORDPRESS_STORY,
    shared_fixtures,
)

from bot.boilerplate import is_related_header, strip_boilerplate

STORY = "قال المتحدث باسم الوزارة إن الاجتماع عقد صباح اليوم في العاصمة."


def survives(line: str) -> bool:
    return strip_boilerplate(f"{STORY}\n\n{line}\n\n{STORY}") != f"{STORY}\n\n{STORY}"


@pytest.mark.parametrize("line", [
    "ترجمة: قسم الأخبار الدولية", "ترجمة وتحرير: سارة أحمد", "ترجمة وإعداد: فريق التحرير",
    "- ترجمة: أحمد علي", "ترجمة خاصة لـ\"نشرة\"", "ترجمة خاصة للجزيرة نت",
    "ترجمة خاصة لـ«عربي21»", "ترجمة خاصة بموقع الجزيرة نت",
    "وقد قام مركز الترجمة في الوكالة بترجمة هذا الخبر",
    "© وقد قام مركز الترجمة بترجمة هذا الخبر", "تمت ترجمة هذا المقال بواسطة فريق نشرة.",
    "Translated by Nashra staff", "Translated from the Arabic by Jane Doe",
    "Translation by: The Newsroom",
])
def test_translation_credits_are_removed(line: str) -> None:
    assert not survives(line)


@pytest.mark.parametrize("line", [
    "تابعونا على واتساب", "تابعونا على واتس آب", "تابعوا آخر الأخبار عبر قناتنا على تيليجرام",
    "انضم إلى قناتنا على واتساب", "انضموا لقناتنا على الواتساب",
    "لمتابعة آخر الأخبار اشترك في قناتنا على تلغرام", "اشترك في قناتنا على يوتيوب.",
    "تابعوا آخر الأخبار عبر تلغرام", "للمزيد من الأخبار تابعوا قناتنا على تليغرام.",
    "لتصلك آخر الأخبار انضم لقناتنا على واتساب", "تابعوا صفحتنا على فيسبوك",
    "Follow us on X", "Follow us on Telegram", "Join our WhatsApp channel",
    "Get the latest news on our Telegram channel", "Find us on Facebook",
])
def test_follow_prompts_are_removed(line: str) -> None:
    assert not survives(line)


@pytest.mark.parametrize("line", [
    "حمّل تطبيق نشرة", "حمل تطبيقنا", "حمّلوا تطبيق الموقع مجانا",
    "لتحميل تطبيق نشرة اضغط هنا", "لتحميل التطبيق انقر هنا", "حمّل تطبيق نشرة الآن مجانا",
    "قم بتحميل تطبيق الموقع من متجر جوجل بلاي", "نزّل تطبيق الموقع على هاتفك",
    "Download our app", "Download the Nashra app", "Get the Nashra app",
    "Install our app for iPhone and Android",
])
def test_download_app_prompts_are_removed(line: str) -> None:
    assert not survives(line)


@pytest.mark.parametrize("line", [
    "The post وزير يزور المدينة appeared first on نشرة.",
    "ظهرت المقالة وزير يزور المدينة أولاً على نشرة.", "Continue reading", "متابعة القراءة",
])
def test_wordpress_feed_footers_are_removed(line: str) -> None:
    assert not survives(line)


@pytest.mark.parametrize("sentence", [
    "أعلنت شركة واتساب عن ميزة جديدة لتحميل الملفات",
    "أعلنت شركة واتساب عن ميزة جديدة لتحميل الملفات الكبيرة.",
    "انضم مليون مستخدم إلى قناة الوزارة على تلغرام خلال أسبوع.",
    "اشترك أكثر من مليون شخص في قناة الحكومة على واتساب.",
    "تابع ملايين المشاهدين المباراة عبر يوتيوب.",
    "وتابع ملايين المشاهدين البث المباشر لحفل الإطلاق عبر يوتيوب.",
    "حُمِّل تطبيق الشركة أكثر من مئة ألف مرة في يومه الأول.",
    "حمل تطبيق المصرف ثغرة أمنية سمحت بسرقة بيانات العملاء.",
    "حُمِّل التطبيق مجانا أكثر من مليون مرة من متجر جوجل بلاي حتى الآن.",
    "وتابع السودانيون آخر الأخبار عبر تلغرام بعد قطع البث.",
    "تابع السودانيون آخر الأخبار عبر تلغرام بعد قطع البث التلفزيوني.",
    "وقال الوزير إن المواطنين يمكنهم تحميل تطبيق الوزارة مجانا من متجر جوجل بلاي.",
    "وحذرت الشرطة من تطبيقات مزيفة تنتحل صفة تطبيق البنك على متجر آب ستور.",
    "وقال مدير القناة: «قناتنا على تلغرام تضم مليون مشترك».",
    "وأطلقت الوزارة قناتها على تلغرام لنشر آخر الأخبار.",
    "وقال المتحدث إن الحكومة ستتابع آخر الأخبار عبر تلغرام.",
    "حظرت السلطات تطبيق تيليغرام في البلاد بعد احتجاجات واسعة.",
    "نزل المتظاهرون إلى الشوارع بعد دعوات على فيسبوك.",
    "أطلق التطبيق ميزة جديدة تسمح بتنزيل الفيديوهات.",
    "ترجمة الرواية إلى الإنجليزية صدرت العام الماضي.",
    "ترجمة القرآن الكريم إلى 40 لغة",
    "ترجمة خاصة بالأطفال لرواية كليلة ودمنة صدرت هذا الأسبوع.",
    "رفضت دار النشر ترجمة هذا الكتاب إلى العبرية.",
    "وقال المترجم إن ترجمة هذا النوع من النصوص تتطلب سنوات.",
    "Translated by more than 40 publishers, the novel sold millions of copies.",
    "The company told us it would launch a WhatsApp channel next week.",
    "Like many other apps, WhatsApp stores messages on the phone.",
    "Downloads of the app rose by 40 percent in June.",
    "Following the ban, Telegram said it would appeal.",
    "The post office will close on Friday, the ministry said.",
])
def test_story_sentences_mentioning_networks_apps_or_translation_stay(sentence: str) -> None:
    assert strip_boilerplate(sentence) == sentence
    assert survives(sentence)


def test_own_samples_lose_nothing() -> None:
    for text in (*(a.text for a in ARTICLES), "\n\n".join(WORDPRESS_STORY)):
        assert strip_boilerplate(text) == text
    assert strip_boilerplate(NAIVE_EXTRACTOR_OUTPUT).split("\n\n") == list(NAIVE_EXTRACTOR_STORY)


def test_related_list_as_html_list_items() -> None:
    # html_to_text makes each <li> a paragraph of its own.
    text = (f"{STORY}\n\nاقرأ أيضا:\n\nارتفاع أسعار الذهب في الأسواق المحلية\n\n"
            f"افتتاح مستشفى جديد في الجنوب\n\n{STORY}")
    assert strip_boilerplate(text) == f"{STORY}\n\n{STORY}"


def test_is_related_header() -> None:
    assert is_related_header("اقرأ أيضاً:")
    assert is_related_header("Related stories")
    assert is_related_header("اقرأ أيضا: معرض الكتاب يحطم الأرقام")
    assert not is_related_header("اقرأ أيضا ما قاله الوزير في مقابلته الطويلة مع الصحيفة، "
                                 "فهو يكشف الكثير عن خطط الحكومة للعام المقبل وما بعده من "
                                 "سنوات: إصلاحات واسعة")
    assert not is_related_header(STORY)


# --- real gold texts: the rules remove none of their lines ------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_real_cnn_gold_text_is_untouched() -> None:
    gold = shared_fixtures("newspaper4k", "arabic_article.txt")
    if not gold.exists():
        pytest.skip("shared fixtures absent")
    paragraphs = _paragraphs(gold.read_text("utf-8"))
    assert len(paragraphs) >= 5
    assert strip_boilerplate("\n\n".join(paragraphs)) == "\n\n".join(paragraphs)


def test_real_assabah_gold_snippets_are_untouched() -> None:
    gold = shared_fixtures("trafilatura", "assabah.evaldata.json")
    if not gold.exists():
        pytest.skip("shared fixtures absent")
    expected = next(iter(json.loads(gold.read_text("utf-8")).values()))
    assert expected["with"]
    for snippet in expected["with"]:
        assert strip_boilerplate(snippet) == " ".join(snippet.split())
