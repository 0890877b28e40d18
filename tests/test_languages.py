"""Source languages: detection (Arabic, Persian, Turkish, English, Urdu), the fallback of text
too short to tell, the pairs a configuration needs and what is missing, Persian spelling
folding for search (on SQLite and PostgreSQL), sentence splitting per language, the digest's
marker, and the migration that rebuilds the SQLite index for the Persian folding."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.old_schema import database_at_schema
from support.synthetic_model import ArgosPackageFactory
from test_store import FEEDS, NOW, make_article

from bot import languages
from bot.config import FeedConfig, Settings, TranslationSettings
from bot.digest import PlainText, render_digest
from bot.errors import TranslateError
from bot.languages import (
    detect,
    detect_all,
    detection_languages,
    missing_models,
    not_translated_marker,
    required_pairs,
    settle,
)
from bot.modelstore import ModelStore
from bot.query import parse_query
from bot.search import search
from bot.selection import Story
from bot.snippets import make_snippet, snippet_text
from bot.store import Store, StoredArticle
from bot.store.migrations import MIGRATIONS
from bot.textnorm import normalize_arabic, normalize_search, split_sentences
from bot.translate import EngineSettings, Translator
from bot.translators import Translators

# News paragraphs written for these tests.
PERSIAN = [
    "وزیر امور خارجه ایران روز دوشنبه در نشست خبری در تهران گفت که دور تازه‌ای از "
    "گفت‌وگوها با کشورهای همسایه درباره‌ی مدیریت منابع آب و مقابله با خشکسالی هفته‌ی آینده "
    "آغاز می‌شود. او افزود که کارشناسان دو کشور پیش‌نویس توافق‌نامه‌ای را آماده کرده‌اند.",
    "بانک مرکزی اعلام کرد نرخ تورم سالانه در مهر ماه به ۳۲ درصد رسید و قیمت کالاهای اساسی "
    "در بازارهای تهران و شهرهای بزرگ همچنان رو به افزایش است. کارشناسان اقتصادی می‌گویند "
    "کاهش ارزش ریال یکی از عوامل اصلی این وضعیت است.",
    # The same news typed on an Arabic keyboard (ي and ك for ی and ک).
    "بانك مركزي اعلام كرد نرخ تورم سالانه در مهر ماه به ۳۲ درصد رسيد و قيمت كالاهاي اساسي "
    "در بازارهاي تهران همچنان رو به افزايش است و كارشناسان مي‌گويند كاهش ارزش ريال عامل "
    "اصلي است.",
]
ARABIC = [
    "أعلنت وزارة الصحة في بيان رسمي يوم الأحد عن إطلاق حملة وطنية للتطعيم في المدارس "
    "الحكومية تستمر أسبوعين، وقالت إن الفرق الطبية ستزور أكثر من ألف مدرسة في مختلف "
    "المحافظات.",
    "قال البنك المركزي إن معدل التضخم السنوي بلغ ٣٢ في المئة في أكتوبر، وإن أسعار السلع "
    "الأساسية ما زالت ترتفع في أسواق العاصمة والمدن الكبرى بسبب تراجع قيمة العملة المحلية.",
]
TURKISH = [
    "Dışişleri Bakanı pazartesi günü Ankara'da düzenlediği basın toplantısında, komşu "
    "ülkelerle su kaynaklarının yönetimi konusunda yeni bir müzakere turunun gelecek hafta "
    "başlayacağını açıkladı.",
    "Merkez Bankası yıllık enflasyonun ekim ayında yüzde 32'ye yükseldiğini, temel gıda "
    "fiyatlarının büyük şehirlerde artmaya devam ettiğini duyurdu.",
]
ENGLISH = [
    "The health ministry announced on Sunday a national vaccination campaign in public "
    "schools that will last two weeks, saying medical teams would visit more than a thousand "
    "schools.",
]
URDU = [
    "وزیر خارجہ نے پیر کے روز اسلام آباد میں ایک پریس کانفرنس میں کہا کہ ہمسایہ ممالک کے "
    "ساتھ پانی کے وسائل پر مذاکرات کا نیا دور اگلے ہفتے شروع ہوگا۔",
]


def settings(tmp_path: Path, **translation: object) -> Settings:
    base = Settings()
    return replace(base, storage=replace(base.storage, path=str(tmp_path / "n.db")),
                   translation=replace(TranslationSettings(), **translation))  # type: ignore[arg-type]


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(("expected", "texts"), [
    ("fa", PERSIAN), ("ar", ARABIC), ("tr", TURKISH), ("en", ENGLISH), ("ur", URDU)])
def test_news_paragraphs_are_detected_in_their_language(
        tmp_path: Path, expected: str, texts: list[str]) -> None:
    choices = detection_languages(settings(tmp_path))
    assert [detect(text, choices) for text in texts] == [expected] * len(texts)


def test_arabic_is_told_without_loading_the_detector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_needed(_languages: tuple[str, ...]) -> None:
        raise AssertionError("the detector was loaded for Arabic text")

    monkeypatch.setattr(languages, "_detector", not_needed)
    choices = detection_languages(settings(tmp_path))
    assert [detect(text, choices) for text in ARABIC] == ["ar", "ar"]
    with pytest.raises(AssertionError):   # Persian letters: the detector decides
        detect(PERSIAN[2], choices)


def test_detection_choices_hold_the_configured_pairs_and_the_neighbours(tmp_path: Path) -> None:
    configured = replace(settings(tmp_path, models={"he-en": ""}),
                         feeds=(FeedConfig("http://127.0.0.1/x", "x", language="ps"),))
    choices = detection_languages(configured)
    assert {"ar", "fa", "tr", "en", "he", "ps", "ur"} <= set(choices)
    assert "de" not in choices   # not a neighbour: a German feed needs its language set


def test_short_text_follows_the_feed_then_the_source_when_the_script_fits(
        tmp_path: Path) -> None:
    config = settings(tmp_path)
    texts = [PERSIAN[0], "ایران و عراق", "Ankara", "۱۲۳ ۴۵۶"]
    found = detect_all(texts, detection_languages(config))
    assert found == ["fa", None, None, None]
    # The feed's other article is Persian: the short Persian headline follows it; a short
    # Latin word cannot be Persian or Arabic and is left as it is; no letters: unknown.
    assert settle(texts, found, config) == ["fa", "fa", "und", "und"]
    # Alone and with no history, a short text in Arabic script takes the source language...
    assert settle(texts[1:2], found[1:2], config) == ["ar"]
    # ...and the feed's recent articles when they are known.
    assert settle(texts[1:2], found[1:2], config, {"fa": 12, "ar": 1}) == ["fa"]
    assert settle(["Ankara"], [None], config, {"tr": 5}) == ["tr"]


def test_a_feeds_set_language_applies_to_every_article() -> None:
    assert languages.fixed([ARABIC[0], "۱۲۳", "Tehran"], "fa") == ["fa", "und", "fa"]


# --- pairs and models -------------------------------------------------------------------------


def test_required_pairs_and_missing_models_name_the_fix(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory) -> None:
    fa_file = argos_package_factory(from_code="fa")
    config = replace(
        settings(tmp_path, models={"fa-en": str(fa_file), "he-en": ""}),
        feeds=(FeedConfig("http://127.0.0.1/tr", "tr", language="tr"),
               FeedConfig("http://127.0.0.1/en", "en", language="en")))
    assert required_pairs(config) == ["ar-en", "fa-en", "he-en", "tr-en"]
    assert required_pairs(config, seen=["ur", "und", "en", "fa"]) == [
        "ar-en", "fa-en", "he-en", "tr-en", "ur-en"]
    missing = dict(missing_models(config))
    assert set(missing) == {"ar-en", "he-en", "tr-en"}   # fa-en: a package file is enough
    assert missing["he-en"] == ("run `nashra models install --pair he-en` "
                                "(or `nashra models install --pair he-en --from FILE.argosmodel`)")
    assert missing["tr-en"].startswith('add "tr-en" = "" to translation.models, then run')
    ModelStore(config.models_path).install_from_path(argos_package_factory(), source="ar",
                                                     target="en")
    assert set(dict(missing_models(config))) == {"he-en", "tr-en"}


def test_a_model_file_of_another_pair_counts_as_missing(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory) -> None:
    config = settings(tmp_path, models={"fa-en": str(argos_package_factory())})  # an ar→en
    assert "fa-en" in dict(missing_models(config))


def test_a_missing_pair_is_logged_once_with_its_fix(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = settings(tmp_path)
    languages._warned.discard("xx-en")
    with caplog.at_level(logging.WARNING, logger="bot.languages"):
        for _ in range(3):
            languages.warn_missing_once(config, "xx-en")
    [record] = [r for r in caplog.records if "xx-en" in r.getMessage()]
    assert "nashra models install --pair xx-en" in record.getMessage()


# --- text handling ----------------------------------------------------------------------------


def test_persian_spellings_fold_together() -> None:
    typed = ["کتاب‌های ایرانی", "كتابهاي ايراني", "كتاب‌هاى ايرانى"]
    assert len({normalize_search(t) for t in typed}) == 1
    assert normalize_search("۱۴۰۳ و ١٤٠٣ و 1403") == "1403 و 1403 و 1403"
    assert normalize_arabic("خانۀ ما") == normalize_arabic("خانه ما")
    # Arabic is folded as before (tests/test_terms.py pins the index's analysis).
    assert normalize_arabic("الحكومةُ عام ٢٠٢٧") == "الحكومه عام ٢٠٢٧"


def test_sentences_split_per_language() -> None:
    assert split_sentences("وزیر گفت: مذاکرات ادامه دارد. آیا توافق ممکن است؟ بله.",
                           language="fa") == [
        "وزیر گفت: مذاکرات ادامه دارد.", "آیا توافق ممکن است؟", "بله."]
    turkish = ("Bakan 15. yüzyıldan kalma camiyi ziyaret etti. Dr. Yılmaz açıklama yaptı. "
               "Toplantıda su, enerji vb. konular görüşüldü.")
    assert split_sentences(turkish, language="tr") == [
        "Bakan 15. yüzyıldan kalma camiyi ziyaret etti.", "Dr. Yılmaz açıklama yaptı.",
        "Toplantıda su, enerji vb. konular görüşüldü."]
    assert split_sentences(URDU[0] + " دوسرا جملہ۔", language="ur") == [URDU[0], "دوسرا جملہ۔"]


# --- the digest -------------------------------------------------------------------------------


def _stored(language: str, title: str, title_translated: str = "") -> StoredArticle:
    return StoredArticle(
        id=1, feed_id=1, feed_name="Source", url="https://example.org/1", published=NOW,
        fetched=NOW, language=language, title_original=title, text_original="",
        title_translated=title_translated, text_translated="", lead="", model="",
        untranslated=not title_translated, story_id=1)


def test_digest_marks_an_article_no_model_translated() -> None:
    title = "Merkez Bankası faiz kararını açıkladı"
    text = render_digest([Story(1, (_stored("tr", title),))], PlainText(), now=NOW)[0]
    assert f"1. {title}" in text and not_translated_marker("tr") in text
    assert not_translated_marker("tr") == "[tr, not translated]"
    english = render_digest([Story(1, (_stored("en", "Wire"),))], PlainText(), now=NOW)[0]
    assert "(original language)" in english and "not translated]" not in english
    persian = _stored("fa", "عنوان", title_translated="The central bank")
    assert "1. The central bank" in render_digest([Story(1, (persian,))], PlainText(), now=NOW)[0]


# --- search -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    location = (request.getfixturevalue("postgres_url") if request.param == "postgresql"
                else tmp_path / "n.db")
    with Store(location) as db:
        feed = db.sync_feeds(FEEDS, NOW)[0]
        db.insert_articles([
            make_article(feed.id, 1, language="fa", title_original="کتاب‌های تازه در نمایشگاه",
                         text_original=PERSIAN[1], title_translated="", text_translated="",
                         lead="", model="", untranslated=True),
            make_article(feed.id, 2, title_original="معرض الكتاب", text_original=ARABIC[0]),
        ])
        yield db


@pytest.mark.parametrize("query", [
    "کتابهای",            # without the zero-width non-joiner
    "كتاب‌هاي",           # Arabic kaf and yeh
    "کتاب‌های",           # as written
    "بانک", "بانك",       # keheh or kaf
    "۳۲", "٣٢", "32",     # Persian, Arabic-Indic or ASCII digits
    "کارشناسان", "كارشناسان",
])
def test_search_finds_persian_however_it_is_typed(store: Store, query: str) -> None:
    page = search(store.reader(), query, now=NOW)
    assert [hit.article.language for hit in page.hits] == ["fa"], query


# --- migration 14 -----------------------------------------------------------------------------


def _index_hits(path: Path, token: str) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute(
            "SELECT rowid FROM search_index WHERE search_index MATCH ?", (f'"{token}"',))]


def test_schema_14_reindexes_an_archive_with_persian_text(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = database_at_schema(path, 13)
    db.execute("INSERT INTO feeds (url, name, created) VALUES ('http://127.0.0.1/f', 'f', "
               "'2026-11-01T00:00:00+00:00')")
    db.execute(
        "INSERT INTO articles (feed_id, entry_key, url, canonical_url, published, fetched, "
        "language, title_original, text_original, title_translated, text_translated, lead, "
        "model, untranslated) VALUES (1, 'k', 'http://127.0.0.1/1', 'http://127.0.0.1/1', "
        "'2026-11-01T00:00:00+00:00', :now, 'ar', 'بانک مرکزی', :text, '', '', '', '', 1)",
        {"text": PERSIAN[1], "now": datetime.now(UTC).isoformat()})
    # As the former analysis indexed it: Persian letters unfolded.
    db.execute("INSERT INTO search_index (rowid, title_en, lead_en, text_en, title_ar, text_ar, "
               "title_stems, text_stems) VALUES (1, '', '', '', 'بانک مرکزی', :text, '', '')",
               {"text": PERSIAN[1]})
    db.close()
    assert _index_hits(path, "بانک") == [1]
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS) >= 14
        assert _index_hits(path, "بانک") == []          # rebuilt with the folded forms
        assert _index_hits(path, "بانك") == [1]
        assert [h.article.id for h in search(store.reader(), "بانک", now=NOW).hits] == [1]


# --- one translator per pair ------------------------------------------------------------------


def test_other_pairs_get_a_translator_on_first_need_and_close_with_the_main_one(
        tmp_path: Path, argos_package_factory: ArgosPackageFactory) -> None:
    config = settings(tmp_path, models={"fa-en": str(argos_package_factory(from_code="fa"))})
    models = ModelStore(config.models_path)
    main_model = models.install_from_path(argos_package_factory(), source="ar", target="en")
    with Store(tmp_path / "cache.db") as cache:
        main = Translator(main_model, EngineSettings(threads=1), cache)
        pool = Translators.of(main, config)
        assert Translators.of(main, config) is pool
        assert asyncio.run(pool.for_language("ar")) is main
        assert asyncio.run(pool.for_language("en")) is None       # already English
        assert asyncio.run(pool.for_language("tr")) is None       # no model
        assert models.find("fa", "en") is None                    # nothing done before need
        persian = asyncio.run(pool.for_language("fa"))
        assert persian is not None and persian.model.id.startswith("fa-en@1.0+")
        assert persian.engine_thread_id is None                   # loaded on first translation
        assert models.find("fa", "en") == persian.model           # installed from its file
        assert asyncio.run(pool.for_language("fa")) is persian
        [result] = persian.translate_sync([PERSIAN[0]])
        assert result.text and persian.engine_thread_id is not None
        main.close()
        with pytest.raises(TranslateError):
            persian.translate_sync(["سلام"])


@pytest.mark.parametrize("query", ["كتابهاي", "کتاب‌های", "کتابهای"])
def test_snippets_mark_the_persian_word_however_the_query_is_typed(query: str) -> None:
    text = "نمایشگاه کتاب تهران گشایش یافت و کتاب‌های تازه در ۳۲ غرفه عرضه شد."
    parsed = parse_query(query, NOW)
    snippet = make_snippet([text], parsed.words, parsed.phrases, parsed.exact_words)
    assert snippet_text(snippet) == ("نمایشگاه کتاب تهران گشایش یافت و [کتاب‌های] تازه در "
                                     "۳۲ غرفه عرضه شد.")


def test_the_store_knows_a_feeds_recent_languages_and_what_waits_for_a_model(
        store: Store) -> None:
    week_ago = NOW - timedelta(days=7)
    assert store.recent_languages(1, week_ago) == {"fa": 1, "ar": 1}
    assert store.recent_languages(2, week_ago) == {}
    assert store.untranslated_languages(week_ago) == ["fa"]
    assert store.untranslated_languages(NOW + timedelta(minutes=1)) == []
