"""Feeds in other languages than Arabic, end to end from the command line: loopback feeds (a
Persian feed with its language set, one detected, a Turkish one, an Arabic one), the real
refresh, the synthetic ar→en package and a synthetic fa→en one built here (real package
layout). The Turkish articles have no model: stored untranslated and marked, not retried
while there is none, translated by the refresh after `nashra models install --pair tr-en`.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.arabic_samples import ARTICLES, SampleArticle, rss_with_content_encoded
from support.feed_server import FeedServer
from support.synthetic_model import build_package_dir, zip_package
from test_languages import PERSIAN, TURKISH

from bot.cli import main
from bot.textnorm import arabic_ratio

_FA_SUBJECTS = ["وزیر امور خارجه", "سخنگوی دولت", "بانک مرکزی", "وزارت بهداشت",
                "شهردار تهران", "رئیس مجلس", "سازمان ملل", "وزیر نیرو"]
_FA_PREDICATES = ["از طرح تازه‌ای برای حمایت از کشاورزان خبر داد",
                  "گفت که قیمت سوخت در ماه آینده افزایش نمی‌یابد",
                  "بر ادامه‌ی گفت‌وگوها با کشورهای همسایه تأکید کرد",
                  "از افتتاح بیمارستان جدیدی در شهر خبر داد",
                  "هشدار داد که خشکسالی منابع آب را تهدید می‌کند",
                  "اعلام کرد نرخ تورم به ۳۲ درصد رسیده است"]
_TR_SUBJECTS = ["Dışişleri Bakanı", "Hükümet sözcüsü", "Merkez Bankası", "Sağlık Bakanlığı",
                "Ankara Valisi", "Meclis Başkanı"]
_TR_PREDICATES = ["çiftçilere yeni bir destek planı açıkladı",
                  "akaryakıt fiyatlarının gelecek ay artmayacağını söyledi",
                  "komşu ülkelerle görüşmelerin süreceğini vurguladı",
                  "kentte yeni bir hastanenin açıldığını duyurdu",
                  "kuraklığın su kaynaklarını tehdit ettiği uyarısında bulundu"]
_EN = ["The foreign minister announced a new plan to support farmers.",
       "The government spokesman said fuel prices would not rise next month.",
       "The central bank stressed that talks with neighbouring countries would go on.",
       "The health ministry announced the opening of a new hospital in the city.",
       "The governor warned that the drought threatens water resources.",
       "Inflation reached 32 percent, the bank said on Monday."]


def _corpus(subjects: list[str], predicates: list[str], texts: list[str]) -> list[str]:
    sentences = [f"{s} {p}." for s, p in itertools.product(subjects, predicates)]
    return sentences + texts + _EN * 4


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fa→en and tr→en .argosmodel files (random weights, tokenizers trained on the language)."""
    base = tmp_path_factory.mktemp("pair-packages")
    fa = build_package_dir(base / "fa", from_code="fa", seed=3,
                           corpus=_corpus(_FA_SUBJECTS, _FA_PREDICATES, PERSIAN))
    tr = build_package_dir(base / "tr", from_code="tr", seed=4,
                           corpus=_corpus(_TR_SUBJECTS, _TR_PREDICATES, TURKISH))
    return {"fa": zip_package(fa, base / f"{fa.name}.argosmodel"),
            "tr": zip_package(tr, base / f"{tr.name}.argosmodel")}


def _sample(slug: str, title: str, paragraphs: list[str], hours: int) -> SampleArticle:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    return SampleArticle(slug, "news", title, tuple(paragraphs), when)


PERSIAN_SET = [
    _sample("fa-water", "گفت‌وگوهای تازه درباره‌ی منابع آب", PERSIAN[:1], 2),
    _sample("fa-inflation", "تورم سالانه به ۳۲ درصد رسید", PERSIAN[1:2], 3),
]
PERSIAN_DETECTED = [
    _sample("fa-keyboard", "بانك مركزي: تورم ادامه دارد", PERSIAN[2:3], 4),
    # A headline-only item: too short to detect, it follows the feed's other article.
    _sample("fa-short", "خبر کوتاه", ["ایران و عراق"], 5),
]
TURKISH_ITEMS = [
    _sample("tr-water", "Su kaynakları için yeni müzakere turu", TURKISH[:1], 6),
    _sample("tr-inflation", "Enflasyon yüzde 32'ye yükseldi", TURKISH[1:2], 7),
]


@dataclass
class Site:
    config: Path
    models: Path


@pytest.fixture
def site(feed_server: FeedServer, argos_package: Path, packages: dict[str, Path],
         tmp_path: Path) -> Site:
    base = feed_server.base_url
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    feeds = [
        ("persian-set", "fa", feed_server.add("/fa.xml", rss_with_content_encoded(
            PERSIAN_SET, base), headers=rss)),
        ("persian-detected", "", feed_server.add("/fa2.xml", rss_with_content_encoded(
            PERSIAN_DETECTED, base), headers=rss)),
        ("turkish", "", feed_server.add("/tr.xml", rss_with_content_encoded(
            TURKISH_ITEMS, base), headers=rss)),
        ("arabic", "", feed_server.add("/ar.xml", rss_with_content_encoded(
            ARTICLES[:1], base), headers=rss)),
    ]
    lines = ["[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"',
             "[translation]", f'model = "{argos_package}"', "threads = 1",
             f'models = {{ "fa-en" = "{packages["fa"]}" }}',
             "[fetch]", "timeout_seconds = 2", "min_text_chars = 10"]
    for name, language, url in feeds:
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"', f'language = "{language}"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Site(config, tmp_path / "data" / "models")


def nashra(site: Site, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--config", str(site.config), *args])
    assert result.exit_code == 0, result.output
    return result


def exported(site: Site) -> dict[str, dict[str, object]]:
    lines = nashra(site, "export").stdout.splitlines()
    return {str(a["title_original"]): a for a in map(json.loads, lines)}


def test_persian_feeds_are_translated_with_their_model_and_turkish_waits_for_one(
        site: Site, packages: dict[str, Path]) -> None:
    nashra(site, "fetch")
    articles = exported(site)
    for sample in PERSIAN_SET + PERSIAN_DETECTED:
        stored = articles[sample.title]
        assert stored["language"] == "fa", sample.slug
        assert str(stored["model"]).startswith("fa-en@1.0+"), sample.slug
        assert stored["title_translated"] and arabic_ratio(str(stored["title_translated"])) < 0.5
    assert str(articles[ARTICLES[0].title]["model"]).startswith("ar-en@1.0+")
    for sample in TURKISH_ITEMS:
        stored = articles[sample.title]
        assert (stored["language"], stored["model"], stored["untranslated"]) == ("tr", "", True)
        assert stored["title_translated"] == stored["text_translated"] == ""
    # The fa→en package was installed into the models folder beside the main one.
    assert {p.name for p in site.models.iterdir() if not p.name.startswith(".")} == {
        "translate-ar_en-1_0", "translate-fa_en-1_0"}

    digest = nashra(site, "digest", "--since", "30d", "--limit", "20").stdout
    for sample in TURKISH_ITEMS:
        assert re.search(rf"^\d+\. {re.escape(sample.title)}\n +http\S+ \[tr, not translated\]$",
                         digest, re.M), digest
    assert "[fa, not translated]" not in digest

    # No model for tr-en: the next refresh does not try the Turkish articles again.
    again = nashra(site, "fetch", "--force")
    assert "sentences translated: 0" in again.stdout
    assert exported(site) == articles

    install = nashra(site, "models", "install", "--pair", "tr-en", "--from", str(packages["tr"]))
    assert "Installed tr→en 1.0" in install.stdout
    nashra(site, "fetch", "--force")
    after = exported(site)
    for sample in TURKISH_ITEMS:
        stored = after[sample.title]
        assert str(stored["model"]).startswith("tr-en@1.0+"), sample.slug
        assert stored["title_translated"] and stored["text_translated"]
    assert {t: a for t, a in after.items() if a["language"] != "tr"} == {
        t: a for t, a in articles.items() if a["language"] != "tr"}


def test_models_install_all_pairs_and_refuses_a_bad_pair(site: Site) -> None:
    result = nashra(site, "models", "install", "--all")
    assert "Installed fa→en 1.0" in result.stdout
    refused = CliRunner().invoke(main, ["--config", str(site.config), "models", "install",
                                        "--pair", "farsi"])
    assert refused.exit_code == 2 and "not a language pair" in refused.output
