"""A tiny synthetic Argos Translate package in the real on-disk layout.

Tests need a real CTranslate2 model and a real SentencePiece tokenizer, but a downloaded model is
hundreds of megabytes and needs the network. This module trains a small SentencePiece model on a
corpus composed here from templates, builds a random-weight Transformer with ``ctranslate2.specs``
(no torch), and zips both the way Argos packages are shipped::

    translate-ar_en-1_0/
        metadata.json
        model/            CTranslate2 model (model.bin, config.json, shared_vocabulary.json)
        sentencepiece.model
        README.md

The weights are random, so the "translations" are gibberish, but their shape is realistic: the
output projection pushes Arabic-script pieces far down (output is Latin script, as an ar→en
model's would be), and the end-of-sentence token gets a bias so outputs stop after a few tokens.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
from ctranslate2.specs import transformer_spec

_D_MODEL = 64
_FFN = 128
_LAYERS = 2
_HEADS = 2
_VOCAB = 900
_LAYER_SCALE = 1.0
_POSITIONS = 512
# EOS logit = _EOS_BIAS + _EOS_WEIGHT * (normalised ramp): measured on seeded builds to end
# outputs after roughly 10-30 tokens.
_EOS_DIM = 10
_RAMP = 0.1
_EOS_WEIGHT = 8.0
_EOS_BIAS = -6.0

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


def _train_sentencepiece(seed: int) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus(seed)), model_writer=model, vocab_size=_VOCAB,
        model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
        num_threads=1, minloglevel=2,
    )
    return model.getvalue()


# --- model ------------------------------------------------------------------------------------


def _is_arabic_piece(piece: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in piece)


def _sinusoids(positions: int) -> np.ndarray:
    pos = np.arange(positions, dtype=np.float32)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(_D_MODEL // 2) / (_D_MODEL // 2))
    table: np.ndarray = np.concatenate([np.sin(pos * freq), np.cos(pos * freq)], axis=1)
    return table.astype(np.float32)


def _fill(rng: np.random.Generator, spec: object, *, reserve: int | None = None) -> None:
    """Give every required variable of a (sub)spec seeded random values of the right shape.

    ``reserve`` is a residual dimension no sublayer may write to, so that it carries the
    position ramp untouched to the output projection (see :func:`_build_ct2_model`).
    """
    d, f = _D_MODEL, _FFN

    def w(*shape: int) -> np.ndarray:
        weights: np.ndarray = rng.standard_normal(shape) * _LAYER_SCALE / np.sqrt(shape[-1])
        return weights.astype(np.float32)

    def norm(ln: object) -> None:
        ln.gamma = np.ones(d, np.float32)  # type: ignore[attr-defined]
        ln.beta = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    def linear(lin: object, out_dim: int, in_dim: int, *, writes_residual: bool = False) -> None:
        weight, bias = w(out_dim, in_dim), np.zeros(out_dim, np.float32)
        if writes_residual and reserve is not None:
            weight[reserve] = 0.0
        lin.weight, lin.bias = weight, bias  # type: ignore[attr-defined]

    for layer in spec.layer:  # type: ignore[attr-defined]
        attentions = [layer.self_attention]
        if hasattr(layer, "attention"):
            attentions.append(layer.attention)
        for att in attentions:
            norm(att.layer_norm)
            if len(att.linear) == 2:  # self-attention: fused QKV, then output
                linear(att.linear[0], 3 * d, d)
            else:  # encoder-decoder attention: Q, fused KV, output
                linear(att.linear[0], d, d)
                linear(att.linear[1], 2 * d, d)
            linear(att.linear[-1], d, d, writes_residual=True)
        norm(layer.ffn.layer_norm)
        linear(layer.ffn.linear_0, f, d)
        linear(layer.ffn.linear_1, d, f, writes_residual=True)
    norm(spec.layer_norm)  # type: ignore[attr-defined]
    spec.position_encodings.encodings = _sinusoids(_POSITIONS)  # type: ignore[attr-defined]


def _embeddings(rng: np.random.Generator, vocab: int) -> np.ndarray:
    # CTranslate2 multiplies embeddings by sqrt(d_model); this keeps them at unit scale.
    weights: np.ndarray = rng.standard_normal((vocab, _D_MODEL)) / np.sqrt(_D_MODEL)
    return weights.astype(np.float32)


def _build_ct2_model(out_dir: Path, pieces: list[str], seed: int) -> None:
    """A random Transformer whose outputs are Latin script and end after a few tokens.

    Random weights alone either never emit EOS or emit it at once. So one residual dimension of
    the decoder is reserved for a position ramp that no layer overwrites, and the EOS row of the
    output projection reads it: EOS becomes likelier with every generated token.
    """
    rng = np.random.default_rng(seed)
    spec = transformer_spec.TransformerSpec.from_config(num_layers=_LAYERS, num_heads=_HEADS)
    vocab = len(pieces)
    spec.encoder.embeddings[0].weight = _embeddings(rng, vocab)
    spec.decoder.embeddings.weight = _embeddings(rng, vocab)
    spec.decoder.embeddings.weight[:, _EOS_DIM] = 0.0
    _fill(rng, spec.encoder)
    _fill(rng, spec.decoder, reserve=_EOS_DIM)
    ramp = spec.decoder.position_encodings.encodings
    ramp[:, _EOS_DIM] = np.arange(_POSITIONS, dtype=np.float32) * _RAMP
    projection = rng.standard_normal((vocab, _D_MODEL)) / np.sqrt(_D_MODEL)
    projection[:, _EOS_DIM] = 0.0
    bias = np.zeros(vocab, np.float32)
    for i, piece in enumerate(pieces):
        # An English model never emits Arabic script, <unk> (would be replaced by a source
        # token) or <s>.
        if _is_arabic_piece(piece) or piece in ("<unk>", "<s>"):
            bias[i] = -1e4
    eos = pieces.index("</s>")
    projection[eos] = 0.0
    projection[eos, _EOS_DIM] = _EOS_WEIGHT
    bias[eos] = _EOS_BIAS
    spec.decoder.projection.weight = projection.astype(np.float32)
    spec.decoder.projection.bias = bias
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.validate()
    spec.optimize(quantization="int8")
    out_dir.mkdir()
    spec.save(str(out_dir))


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
                      version: str = "1.0", seed: int = 0) -> Path:
    """Build the unpacked package folder in ``dest_dir`` and return its path."""
    name = f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"
    root = dest_dir / name
    root.mkdir(parents=True)
    sp_bytes = _train_sentencepiece(seed)
    (root / "sentencepiece.model").write_bytes(sp_bytes)
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    _build_ct2_model(root / "model", pieces, seed)
    meta = _metadata(from_code, to_code, version)
    (root / "metadata.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (root / "README.md").write_text(
        f"# Synthetic {from_code}→{to_code} test model\n\nRandom weights (seed {seed}).\n",
        encoding="utf-8")
    return root


def build_argos_package(dest_dir: Path, *, from_code: str = "ar", to_code: str = "en",
                        version: str = "1.0", seed: int = 0) -> Path:
    """Build a synthetic package under ``dest_dir`` and return its ``.argosmodel`` path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = build_package_dir(dest_dir, from_code=from_code, to_code=to_code,
                             version=version, seed=seed)
    archive = dest_dir / f"{root.name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            zf.write(path, path.relative_to(dest_dir).as_posix())
    return archive


class ArgosPackageFactory:
    """Builds packages once per distinct argument set within a test session."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._built: dict[tuple[str, str, str, int], Path] = {}

    def __call__(self, *, from_code: str = "ar", to_code: str = "en", version: str = "1.0",
                 seed: int = 0) -> Path:
        key = (from_code, to_code, version, seed)
        if key not in self._built:
            dest = self._base / f"{from_code}-{to_code}-{version}-{seed}"
            self._built[key] = build_argos_package(
                dest, from_code=from_code, to_code=to_code, version=version, seed=seed)
        return self._built[key]


@pytest.fixture(scope="session")
def argos_package_factory(tmp_path_factory: pytest.TempPathFactory) -> ArgosPackageFactory:
    """Call with keyword arguments of :func:`build_argos_package`; builds are cached."""
    return ArgosPackageFactory(tmp_path_factory.mktemp("argos-packages"))


@pytest.fixture(scope="session")
def argos_package(argos_package_factory: ArgosPackageFactory) -> Path:
    """The default synthetic ar→en ``.argosmodel`` file (built once per session)."""
    return argos_package_factory()


__all__ = ["ArgosPackageFactory", "argos_package", "argos_package_factory",
           "build_argos_package", "build_package_dir"]
