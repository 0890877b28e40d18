"""Source languages: which language an article is in, which model pair it needs, and what to
say about an article no model can translate.

A feed's ``language`` setting wins; "" means each article is detected from its title and text
with py3langid, restricted to the languages this installation can meet (the source language,
those of ``translation.models`` and their usual neighbours), so a Turkish feed without a model
is still told apart as "tr" and not forced into Arabic or Persian. Text too short or too
ambiguous to tell takes the language its feed's articles mostly have, else the configured
source (when the script agrees). Detection is CPU work: callers run it off the event loop.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot.config import Settings
from bot.errors import TranslateError
from bot.i18n import N_
from bot.models import ModelInfo
from bot.modelstore import ModelStore, package_pair
from bot.textnorm import ARABIC_SCRIPT, arabic_ratio

log = logging.getLogger(__name__)

UNDETERMINED = "und"
# Languages a feed of this project's readers is likely to be in besides the configured ones:
# each needs telling apart from the others (Arabic script: ar fa ur ps ku; Latin: tr en fr).
NEIGHBOURS = ("ar", "fa", "ur", "ps", "ku", "tr", "he", "en", "fr")
# Below this many letters a text is not detected but takes its feed's usual language.
MIN_LETTERS = 30
# A detection this sure or more is trusted (py3langid's normalised probability).
MIN_CONFIDENCE = 0.8
# Characters of an article given to the detector: the first paragraphs say enough.
DETECT_CHARS = 1500
# The language the digest is written in: an article already in it needs no marker.
ENGLISH = "en"
# How an article no model translated is marked where its English would be (the digest).
NOT_TRANSLATED_MARKER = N_("[%(language)s, not translated]")

# The languages a source may be in, named in the interface ("Persian original"); a code
# missing here is shown as it is.
LANGUAGE_NAMES = {
    "ar": N_("Arabic"), "fa": N_("Persian"), "tr": N_("Turkish"), "ur": N_("Urdu"),
    "he": N_("Hebrew"), "ps": N_("Pashto"), "ku": N_("Kurdish"), "en": N_("English"),
    "fr": N_("French"),
}

# What Persian (پ چ ژ گ ی ک ۀ, its digits, the zero-width non-joiner), Urdu (ٹ ڈ ڑ ں ہ ھ ے
# ۔), Pashto (ښ ږ ځ څ ډ ړ ڼ ۍ ې) and Kurdish (ڵ ڕ ێ ۆ ە) write and Arabic does not.
_NOT_ARABIC = re.compile(
    "[\u067e\u0686\u0698\u06af\u06cc\u06a9\u06c0\u06f0-\u06f9\u200c"
    "\u0679\u0688\u0691\u06ba\u06c1\u06be\u06d2\u06d4"
    "\u069a\u0696\u0681\u0685\u0689\u0693\u06bc\u06cd\u06d0"
    "\u06b5\u0695\u06ce\u06c6\u06d5]")
_detectors: dict[tuple[str, ...], Any] = {}
_detectors_lock = threading.Lock()
_warned: set[str] = set()


def pair_of(language: str, target: str) -> str:
    """The ``translation.models`` key of a language pair, e.g. "fa-en"."""
    return f"{language}-{target}"


class Shown(Protocol):
    """What the readers' views know of an article (a StoredArticle)."""

    @property
    def language(self) -> str: ...

    @property
    def title_translated(self) -> str: ...

    @property
    def text_translated(self) -> str: ...


def has_translation(article: Shown) -> bool:
    """Whether a translation exists to show (else the original is shown)."""
    return article.language != UNDETERMINED and bool(
        article.title_translated or article.text_translated)


def untranslated_language(article: Shown) -> str | None:
    """The language of an article shown in its original for want of a model (or because
    its model failed), to mark it with :data:`NOT_TRANSLATED_MARKER`; None for a translated
    one, one in English, or one whose language is unknown."""
    if has_translation(article) or article.language in (UNDETERMINED, "", ENGLISH):
        return None
    return article.language


def not_translated_marker(language: str, gettext: Callable[[str], str] | None = None) -> str:
    """The marker of an article in ``language`` that no model translated."""
    return (gettext or str)(NOT_TRANSLATED_MARKER) % {"language": language}


def language_name(language: str, gettext: Callable[[str], str] | None = None) -> str:
    """``language`` (a code such as "fa") by its name in the interface language, "Persian"
    or "الفارسية"; an unknown code stays the code."""
    name = LANGUAGE_NAMES.get(language)
    return (gettext or str)(name) if name else language


def needs_model(language: str, settings: Settings) -> bool:
    """Whether articles in ``language`` are translated at all (not the target, not unknown)."""
    return language not in (UNDETERMINED, "", settings.translation.target)


# --- pairs and models -------------------------------------------------------------------------


def required_pairs(settings: Settings, seen: Iterable[str] = ()) -> list[str]:
    """The pairs this configuration needs a model for: the main pair first, then those of
    ``translation.models``, of feeds with a set language, and of the languages ``seen``."""
    t = settings.translation
    wanted = [pair_of(t.source, t.target), *t.models]
    wanted += [pair_of(f.language, t.target) for f in settings.feeds
               if f.language and needs_model(f.language, settings)]
    wanted += [pair_of(lang, t.target) for lang in seen if needs_model(lang, settings)]
    main, *others = dict.fromkeys(wanted)
    return [main, *sorted(set(others) - {main})]


def model_spec(settings: Settings, pair: str) -> str:
    """The configured model of a pair ("" = installed from the Argos index)."""
    t = settings.translation
    if pair == pair_of(t.source, t.target):
        return t.model
    return t.models.get(pair, "")


def available_offline(settings: Settings, pair: str) -> bool:
    """Whether the pair's model is usable without the network (installed, or a file or
    package folder the spec names). Reads the models folder only; never installs."""
    source, target = pair.split("-", 1)
    spec = model_spec(settings, pair)
    if spec:
        path = Path(spec).expanduser()
        try:
            return path.exists() and package_pair(path) == (source, target)
        except TranslateError:
            return False
    return ModelStore(settings.models_path).find(source, target) is not None


def install_fix(settings: Settings, pair: str) -> str:
    """How to get the pair's model, in one line."""
    command = f"nashra models install --pair {pair}"
    if pair == pair_of(settings.translation.source, settings.translation.target):
        return f"run `{command}` (or set translation.model to a .argosmodel file)"
    if pair not in settings.translation.models:
        return (f'add "{pair}" = "" to translation.models, then run `{command}` '
                f"(or `{command} --from FILE.argosmodel`)")
    return f"run `{command}` (or `{command} --from FILE.argosmodel`)"


def missing_models(settings: Settings, seen: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(pair, fix) for each required pair (:func:`required_pairs`) without a usable model."""
    return [(pair, install_fix(settings, pair)) for pair in required_pairs(settings, seen)
            if not available_offline(settings, pair)]


def warn_missing_once(settings: Settings, pair: str) -> None:
    """Log, once per pair and process, that articles of a pair are stored untranslated."""
    if pair in _warned:
        return
    _warned.add(pair)
    log.warning("no %s translation model: its articles are stored untranslated; to fix: %s",
                pair, install_fix(settings, pair))


# --- detection --------------------------------------------------------------------------------


def detection_languages(settings: Settings) -> tuple[str, ...]:
    """What the detector chooses from: the source, the target, the configured pairs' sources
    and the neighbours (only languages py3langid knows)."""
    t = settings.translation
    sources = [pair.split("-", 1)[0] for pair in t.models]
    sources += [f.language for f in settings.feeds if f.language]
    return tuple(sorted({t.source, t.target, *sources, *NEIGHBOURS}))


def _detector(languages: tuple[str, ...]) -> Any:
    with _detectors_lock:
        detector = _detectors.get(languages)
        if detector is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            detector = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            detector.set_languages([lang for lang in languages if lang in detector.labels])
            # Only the chosen languages' columns are kept: the full table (some 27 MB) goes.
            detector._full_model = (detector.nb_ptc, detector.nb_pc, detector.nb_classes)
            _detectors[languages] = detector
        return detector


def detect(text: str, languages: Sequence[str]) -> str | None:
    """The language of ``text`` among ``languages``, or None when it is too short or the
    detector is unsure. Text in Arabic script using no letter, digit or mark that Arabic
    lacks is Arabic without asking the detector (an Arabic-only installation never loads
    it)."""
    sample = text[:DETECT_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    if ("ar" in languages and arabic_ratio(sample) >= 0.5
            and not _NOT_ARABIC.search(sample)):
        return "ar"
    language, confidence = _detector(tuple(languages)).classify(sample)
    return str(language) if confidence >= MIN_CONFIDENCE else None


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _script_fits(text: str, language: str) -> bool:
    return (arabic_ratio(text) >= 0.5) == (language in ARABIC_SCRIPT)


def detect_all(texts: Sequence[str], languages: Sequence[str]) -> list[str | None]:
    """:func:`detect` for each text (CPU work: call it off the event loop)."""
    return [detect(text, languages) for text in texts]


def settle(texts: Sequence[str], found: Sequence[str | None], settings: Settings,
           recent: Mapping[str, int] | None = None) -> list[str]:
    """Each article's language from what :func:`detect_all` ``found``: a text it could not
    tell takes the majority of the others and of its feed's ``recent`` languages, else the
    source language, whichever is written in the text's script (else "und": shown as it is).
    """
    votes = Counter(lang for lang in found if lang)
    votes.update({lang: n for lang, n in (recent or {}).items() if lang != UNDETERMINED})
    fallbacks = [lang for lang, _n in votes.most_common()] + [settings.translation.source]
    languages = []
    for text, language in zip(texts, found, strict=True):
        if not _has_letters(text):
            language = UNDETERMINED
        elif language is None:
            sample = text[:DETECT_CHARS]
            language = next((lang for lang in fallbacks if _script_fits(sample, lang)),
                            UNDETERMINED)
        languages.append(language)
    return languages


def fixed(texts: Sequence[str], feed_language: str) -> list[str]:
    """A feed's set language for each of its articles (those without letters: "und")."""
    return [feed_language if _has_letters(text) else UNDETERMINED for text in texts]


# --- installing -------------------------------------------------------------------------------


def configured_pairs(settings: Settings) -> list[str]:
    """The main pair, then those of ``translation.models`` (what `models install --all` does)."""
    t = settings.translation
    main = pair_of(t.source, t.target)
    return [main, *sorted(set(t.models) - {main})]


def install_pair(settings: Settings, pair: str, path: Path | None = None,
                 progress: Callable[[int, int | None], None] | None = None) -> ModelInfo:
    """Install the pair's model into the models folder: from ``path``, else from the file or
    folder its setting names (``translation.model`` for the main pair, ``translation.models``
    for the others), else from the Argos index."""
    source, target = pair.split("-", 1)
    store = ModelStore(settings.models_path)
    spec = model_spec(settings, pair)
    if path is None and spec:
        path = Path(spec).expanduser()
    if path is not None:
        return store.install_from_path(path, source=source, target=target)
    return store.install_from_index(source, target, progress=progress)
