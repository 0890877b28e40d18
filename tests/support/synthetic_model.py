"""Synthetic Argos Translate packages in the real on-disk layout.

Tests need a real CTranslate2 model and a real SentencePiece tokenizer, but a downloaded model is
hundreds of megabytes and needs the network. This module trains a SentencePiece model on a
corpus composed here from templates (or on text the caller gives), builds a random-weight
Transformer with ``ctranslate2.specs`` (no torch; see :mod:`support.synthetic_weights`), and
zips both the way Argos packages are shipped::

    translate-ar_en-1_0/
        metadata.json
        model/            CTranslate2 model (model.bin, config.json, shared_vocabulary.json)
        sentencepiece.model
        minisbd/ar.onnx   optional sentence-boundary model (see support.minisbd_model)
        README.md

The weights are random, so the "translations" are gibberish, but their shape is realistic:
Latin-script output that ends after a realistic number of tokens. ``TEST_SHAPE`` is tiny (for
tests); ``BASE_SHAPE`` has the size of Argos's ar→en model (for bench/translate.py). A
``behaviour`` other than "normal" gives a model that fails like real ones sometimes do
(loops, empty or Arabic output) for the translation quality-guard tests.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
import sentencepiece as spm

from support.minisbd_model import build_minisbd_model
from support.synthetic_weights import BASE_SHAPE, TEST_SHAPE, ModelShape, build_ct2_model

# --- corpus -----------------------------------------------------------------------------------

_AR_SUBJECTS = [
    "وزير الخارجية", "رئيس الوزراء", "المتحدث باسم الحكومة", "وزارة الصحة", "البنك المركزي",
    "الأمم المتحدة", "مجلس النواب", "وزير الاقتصاد", "الرئيس الفرنسي", "وزارة التربية",
    "منظمة الصحة العالمية", "الاتحاد الأوروبي", "وزير الطاقة", "محافظ العاصمة", "الجيش",
]
_AR_VERBS = [
    "أعلن", "أكد", "قال", "نفى", "كشف", "حذّر من", "رحّب", "دعا إلى", "ناقش", "أوضح",
]
_AR_OBJECTS = [
    "خطة جديدة لدعم الاقتصاد الوطني", "زيادة أسعار الوقود خلال الشهر المقبل",
    "توقيع اتفاقية تعاون مع دول الجوار", "إطلاق حملة تطعيم في المدارس",
    "ارتفاع معدلات التضخم إلى مستويات قياسية", "استئناف المفاوضات بين الطرفين",
    "افتتاح مستشفى جديد في المدينة", "تأجيل الانتخابات البلدية", "هطول أمطار غزيرة على الساحل",
    "انخفاض أسعار النفط في الأسواق العالمية", "بناء آلاف الوحدات السكنية",
    "تعزيز الأمن على الحدود الشمالية", "إصلاح شبكة الكهرباء", "دعم المزارعين بعد موجة الجفاف",
]
_AR_TAILS = [
    "في مؤتمر صحفي يوم الأحد", "وفق ما نقلته وكالة الأنباء الرسمية", "في بيان رسمي",
    "خلال زيارته إلى القاهرة", "أمام البرلمان", "في تصريح للصحفيين", "صباح اليوم",
    "بعد اجتماع استمر ساعات", "في العاصمة بيروت", "مساء الخميس",
]
_EN_SUBJECTS = [
    "The foreign minister", "The prime minister", "A government spokesman", "The health ministry",
    "The central bank", "The United Nations", "Parliament", "The economy minister",
    "The French president", "The education ministry", "The World Health Organization",
    "The European Union", "The energy minister", "The governor of the capital", "The army",
]
_EN_VERBS = [
    "announced", "confirmed", "said", "denied", "revealed", "warned about", "welcomed",
    "called for", "discussed", "explained",
]
_EN_OBJECTS = [
    "a new plan to support the national economy", "higher fuel prices next month",
    "a cooperation agreement with neighbouring countries", "a vaccination campaign in schools",
    "inflation rising to record levels", "the resumption of talks between the two sides",
    "the opening of a new hospital in the city", "the postponement of municipal elections",
    "heavy rain on the coast", "falling oil prices on world markets",
    "the construction of thousands of housing units", "tighter security on the northern border",
    "repairs to the electricity grid", "support for farmers after the drought",
]
_EN_TAILS = [
    "at a press conference on Sunday", "according to the official news agency",
    "in an official statement", "during a visit to Cairo", "before parliament",
    "in remarks to reporters", "this morning", "after a meeting that lasted hours",
    "in the capital Beirut", "on Thursday evening",
]
_AR_PLACES = [
    "دمشق", "بغداد", "عمّان", "الرياض", "تونس", "الجزائر", "الرباط", "طرابلس", "الخرطوم",
    "صنعاء", "الدوحة", "أبوظبي", "الكويت", "مسقط", "غزة", "حلب", "الإسكندرية", "الموصل",
]
_EN_PLACES = [
    "Damascus", "Baghdad", "Amman", "Riyadh", "Tunis", "Algiers", "Rabat", "Tripoli", "Khartoum",
    "Sanaa", "Doha", "Abu Dhabi", "Kuwait", "Muscat", "Gaza", "Aleppo", "Alexandria", "Mosul",
]
_AR_EVENTS = [
    "تظاهر آلاف الطلاب احتجاجاً على ارتفاع الرسوم الجامعية",
    "افتتح معرض الكتاب الدولي أبوابه أمام الزوار",
    "اندلع حريق كبير في سوق شعبي قديم",
    "وصلت قافلة مساعدات إنسانية محمّلة بالأدوية والأغذية",
    "أضرب عمال الموانئ للمطالبة بتحسين الأجور",
    "سجّلت محطات الرصد زلزالاً بقوة أربع درجات",
    "فاز المنتخب الوطني على منافسه بهدفين مقابل هدف",
    "انقطعت الكهرباء عن معظم الأحياء السكنية",
    "أطلقت شركة ناشئة تطبيقاً لحجز المواعيد الطبية",
    "عقدت نقابة الصحفيين جمعيتها العمومية السنوية",
    "ارتفعت درجات الحرارة فوق معدلاتها الموسمية",
    "أُغلقت المدارس بسبب العاصفة الثلجية",
]
_EN_EVENTS = [
    "thousands of students protested against higher university fees",
    "the international book fair opened its doors to visitors",
    "a large fire broke out in an old popular market",
    "a humanitarian aid convoy carrying medicine and food arrived",
    "port workers went on strike demanding better wages",
    "monitoring stations recorded an earthquake of magnitude four",
    "the national team beat its rival by two goals to one",
    "power was cut to most residential neighbourhoods",
    "a startup launched an application for booking medical appointments",
    "the journalists' union held its annual general assembly",
    "temperatures rose above their seasonal averages",
    "schools were closed because of the snowstorm",
]
_AR_WHEN = ["يوم الاثنين", "يوم الثلاثاء", "يوم الأربعاء", "يوم الجمعة", "يوم السبت",
            "الأسبوع الماضي", "أمس", "الليلة الماضية"]
_EN_WHEN = ["on Monday", "on Tuesday", "on Wednesday", "on Friday", "on Saturday",
            "last week", "yesterday", "last night"]
_EXTRA = [
    "ارتفع مؤشر البورصة بنسبة 3.5% في ختام التداولات.",
    "قُتل 12 شخصاً وأصيب 40 آخرون في حادث سير على الطريق السريع.",
    "هل تنجح المبادرة الجديدة في إنهاء الأزمة؟",
    "The stock index rose 3.5% at the close of trading.",
    "Twelve people were killed and 40 injured in a motorway accident.",
    "Will the new initiative succeed in ending the crisis?",
    "Dr. Ahmed said the results were encouraging, and more tests will follow.",
]


def _corpus(seed: int) -> list[str]:
    """About four hundred news-like sentences, half Arabic and half English."""
    rng = random.Random(seed)
    combos = list(itertools.product(range(len(_AR_SUBJECTS)), range(len(_AR_VERBS)),
                                    range(len(_AR_OBJECTS)), range(len(_AR_TAILS))))
    rng.shuffle(combos)
    lines = list(_EXTRA)
    for s, v, o, t in combos[:120]:
        lines.append(f"{_AR_VERBS[v]} {_AR_SUBJECTS[s]} {_AR_OBJECTS[o]} {_AR_TAILS[t]}.")
        lines.append(f"{_EN_SUBJECTS[s]} {_EN_VERBS[v]} {_EN_OBJECTS[o]} {_EN_TAILS[t]}.")
    for _ in range(60):
        p, e, w = (rng.randrange(len(_AR_PLACES)), rng.randrange(len(_AR_EVENTS)),
                   rng.randrange(len(_AR_WHEN)))
        lines.append(f"{_AR_PLACES[p]}: {_AR_EVENTS[e]} {_AR_WHEN[w]}.")
        lines.append(f"{_EN_PLACES[p]}: {_EN_EVENTS[e][0].upper()}{_EN_EVENTS[e][1:]} "
                     f"{_EN_WHEN[w]}.")
    return lines


def _train_sentencepiece(sentences: Sequence[str], vocab: int) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab,
        model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
        num_threads=1, minloglevel=2,
    )
    return model.getvalue()


# --- package ----------------------------------------------------------------------------------


def _metadata(from_code: str, to_code: str, version: str) -> dict[str, object]:
    names = {"ar": "Arabic", "en": "English", "fr": "French"}
    return {
        "package_version": version, "argos_version": "1.9", "type": "translate",
        "from_code": from_code, "from_name": names.get(from_code, from_code),
        "to_code": to_code, "to_name": names.get(to_code, to_code),
        "links": [], "languages": [],
    }


def build_package_dir(dest_dir: Path, *, from_code: str = "ar", to_code: str = "en",
                      version: str = "1.0", seed: int = 0, behaviour: str = "normal",
                      shape: ModelShape = TEST_SHAPE, corpus: Sequence[str] | None = None,
                      minisbd: bool = False) -> Path:
    """Build the unpacked package folder in ``dest_dir`` and return its path.

    ``corpus`` (default: this module's template sentences) trains the SentencePiece model;
    ``minisbd`` adds a sentence-boundary model in the ``minisbd/`` folder, as packages made
    for argostranslate 1.11 carry.
    """
    name = f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"
    root = dest_dir / name
    root.mkdir(parents=True)
    sp_bytes = _train_sentencepiece(corpus if corpus is not None else _corpus(seed),
                                    shape.vocab)
    (root / "sentencepiece.model").write_bytes(sp_bytes)
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    build_ct2_model(root / "model", pieces, seed, shape, behaviour)
    if minisbd:
        (root / "minisbd").mkdir()
        (root / "minisbd" / f"{from_code}.onnx").write_bytes(build_minisbd_model(from_code))
    meta = _metadata(from_code, to_code, version)
    (root / "metadata.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (root / "README.md").write_text(
        f"# Synthetic {from_code}→{to_code} test model\n\nRandom weights (seed {seed}, "
        f"{behaviour}).\n", encoding="utf-8")
    return root


def zip_package(root: Path, archive: Path) -> Path:
    """Zip an unpacked package folder the way .argosmodel files are shipped."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            zf.write(path, path.relative_to(root.parent).as_posix())
    return archive


def build_argos_package(dest_dir: Path, *, from_code: str = "ar", to_code: str = "en",
                        version: str = "1.0", seed: int = 0, behaviour: str = "normal",
                        minisbd: bool = False) -> Path:
    """Build a synthetic package under ``dest_dir`` and return its ``.argosmodel`` path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = build_package_dir(dest_dir, from_code=from_code, to_code=to_code,
                             version=version, seed=seed, behaviour=behaviour, minisbd=minisbd)
    return zip_package(root, dest_dir / f"{root.name}.argosmodel")


class ArgosPackageFactory:
    """Builds packages once per distinct argument set within a test session."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._built: dict[tuple[str, str, str, int, str, bool], Path] = {}

    def __call__(self, *, from_code: str = "ar", to_code: str = "en", version: str = "1.0",
                 seed: int = 0, behaviour: str = "normal", minisbd: bool = False) -> Path:
        key = (from_code, to_code, version, seed, behaviour, minisbd)
        if key not in self._built:
            dest = self._base / "-".join(str(k) for k in key)
            self._built[key] = build_argos_package(
                dest, from_code=from_code, to_code=to_code, version=version, seed=seed,
                behaviour=behaviour, minisbd=minisbd)
        return self._built[key]


@pytest.fixture(scope="session")
def argos_package_factory(tmp_path_factory: pytest.TempPathFactory) -> ArgosPackageFactory:
    """Call with keyword arguments of :func:`build_argos_package`; builds are cached."""
    return ArgosPackageFactory(tmp_path_factory.mktemp("argos-packages"))


@pytest.fixture(scope="session")
def argos_package(argos_package_factory: ArgosPackageFactory) -> Path:
    """The default synthetic ar→en ``.argosmodel`` file (built once per session)."""
    return argos_package_factory()


__all__ = ["BASE_SHAPE", "TEST_SHAPE", "ArgosPackageFactory", "ModelShape", "argos_package",
           "argos_package_factory", "build_argos_package", "build_package_dir", "zip_package"]
