"""Text normalisation and sentence splitting (Arabic, Persian and other source languages),
shared by translate, store and search."""

from __future__ import annotations

import importlib
import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Harakat, Quranic marks and superscript alef: what "with or without diacritics" is about.
_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_LETTER_MAP = str.maketrans({
    "\u0622": "\u0627",  # alef with madda  -> alef
    "\u0623": "\u0627",  # alef with hamza above
    "\u0625": "\u0627",  # alef with hamza below
    "\u0671": "\u0627",  # alef wasla
    "\u0649": "\u064a",  # alef maqsura -> ya
    "\u0629": "\u0647",  # ta marbuta -> ha
    # Persian and Urdu spellings of the same letters, so that Persian text matches however
    # it was typed (Arabic or Persian keyboard): Farsi yeh, keheh, heh forms, and the
    # zero-width non-joiner between a word's parts (می‌خواهد = میخواهد) is dropped.
    "\u06cc": "\u064a",  # farsi yeh -> ya
    "\u06a9": "\u0643",  # keheh -> kaf
    "\u06c0": "\u0647",  # heh with yeh above -> ha
    "\u06be": "\u0647",  # heh doachashmee -> ha
    "\u06d5": "\u0647",  # ae -> ha
    "\u06c3": "\u0647",  # teh marbuta goal -> ha
    "\u200c": None,       # zero-width non-joiner
})
# Eastern Arabic and Persian digits (and the Arabic decimal separator) as ASCII.
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫", "01234567890123456789.")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")


def normalize_arabic(text: str) -> str:
    """Fold the spelling variants of Arabic so that search matches regardless of them.

    Strips tashkeel and tatweel, unifies alef forms, alef maqsura/ya and ta marbuta/ha, and
    the Persian letter forms (yeh, keheh, heh) with the Arabic ones; drops the zero-width
    non-joiner. Digits stay as written (:func:`normalize_digits`, applied to search words).
    Non-Arabic text passes through unchanged apart from NFKC.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _TASHKEEL.sub("", text).replace(_TATWEEL, "")
    return text.translate(_LETTER_MAP)


def normalize_digits(text: str) -> str:
    """Eastern Arabic (٠-٩) and Persian (۰-۹) digits as ASCII, ٫ as a decimal point."""
    return text.translate(DIGITS)


def normalize_search(text: str) -> str:
    """The form search compares words in: :func:`normalize_arabic`, digits as ASCII and
    case folded (Arabic, Persian and Latin text alike)."""
    return normalize_digits(normalize_arabic(text)).casefold()


def normalize_sentence(text: str) -> str:
    """The cache key form of a sentence: NFC, no tatweel, single spaces, trimmed.

    Deliberately milder than :func:`normalize_arabic`: diacritics can change meaning, so two
    sentences differing in them are translated separately.
    """
    text = unicodedata.normalize("NFC", text).replace(_TATWEEL, "")
    return _SPACES.sub(" ", text).strip()


def arabic_ratio(text: str) -> float:
    """Share of letters in ``text`` that are Arabic script (0.0 when it has no letters)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    arabic = sum(1 for ch in letters if _ARABIC_LETTER.match(ch))
    return arabic / len(letters)


# --- sentence and paragraph splitting ---------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n\s*")
# A run of terminal punctuation, with any closing quotes or brackets, followed by whitespace.
# ۔ is Urdu's full stop.
_TERMINATOR = re.compile("[.!?\u061f\u06d4\u2026]+[\"'\u00bb\u201d\u2019)\\]]*(?=\\s)")
_ARABIC_SEMICOLON = "\u061b"
# Latin abbreviations that end in a dot mid-sentence in English news quoted in Arabic feeds.
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "gen", "col", "lt", "sgt",
    "capt", "gov", "sen", "rep", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "e.g", "i.e",
})
# Languages written in Arabic script: no letter case, so a dot before a lower-case word
# tells nothing; in the others (Latin, Hebrew...) it does not end a sentence.
ARABIC_SCRIPT = frozenset({"ar", "fa", "ur", "ps", "ku"})
# Abbreviations of Latin-script source languages ending in a dot mid-sentence, by language.
_LANGUAGE_ABBREVIATIONS = {
    "tr": frozenset({"dr", "prof", "doç", "yrd", "av", "sn", "vb", "vs", "bkz", "cad", "sok",
                     "mah", "no", "tel", "örn", "alb", "gen", "org", "kur", "tsk"}),
    "fr": frozenset({"m", "mm", "mme", "mlle", "dr", "pr", "st", "ste", "cf", "etc", "env"}),
}
# Dotted abbreviations made of short letter groups: U.S, e.g, ق.م (the final dot is the match).
_DOTTED = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
# Preferred chunking points for over-long pieces, best first.
_CHUNK_MARKS = (_ARABIC_SEMICOLON, ";", "\u060c", ",", " ")
_OPENERS = "\"'\u00ab\u201c\u2018(["


def split_paragraphs(text: str) -> list[str]:
    """Split ``text`` at blank lines into trimmed, non-empty paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def split_sentences(text: str, max_chars: int = 400, language: str = "ar") -> list[str]:
    """Split text in ``language`` into sentences no longer than ``max_chars``.

    Boundaries are . ! ? ؟ ۔ followed by whitespace, and line breaks. Decimals (3.5), single
    letter abbreviations and initials (د. أ. J.), dotted forms (U.S.) and ellipses do not end a
    sentence. A long sentence is also cut at ؛, and anything still longer than ``max_chars``
    is chunked at ؛ ; ، , or spaces, because the model truncates over-long input. Arabic,
    Persian, Urdu... (``ARABIC_SCRIPT``) share these rules; in other languages a dot before a
    lower-case word (Turkish ordinals: 15. yüzyıl) and the language's own abbreviations do
    not end a sentence either.
    """
    sentences: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        sentences.extend(limit_length(_split_line(line, language), max_chars))
    return sentences


def limit_length(sentences: list[str], max_chars: int = 400) -> list[str]:
    """Cut sentences longer than ``max_chars`` (at ؛ first, then ؛ ; ، , or spaces).

    Applied to every splitter's output, the sentence-boundary model's included: the
    translation model truncates over-long input.
    """
    pieces: list[str] = []
    for sentence in sentences:
        for piece in _split_semicolons(sentence, max_chars // 2):
            pieces.extend(_chunk(piece, max_chars))
    return pieces


def _split_line(line: str, language: str = "ar") -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _TERMINATOR.finditer(line):
        if _is_boundary(line, start, match) and (
                language in ARABIC_SCRIPT or _latin_boundary(line, start, match, language)):
            pieces.append(line[start:match.end()])
            start = match.end()
    pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def _is_boundary(line: str, start: int, match: re.Match[str]) -> bool:
    punct = match.group().rstrip("\"'\u00bb\u201d\u2019)]")
    if "!" in punct or "?" in punct or "\u061f" in punct:
        return True
    if len(punct) > 1 or "\u2026" in punct:
        return False  # an ellipsis: the sentence usually goes on (omitted words in a quote)
    words = line[start:match.start()].split()
    if not words:
        return False
    word = words[-1].lstrip(_OPENERS).replace(_TATWEEL, "")
    if len(word) == 1 and word.isalpha():
        return False  # an initial or a one-letter Arabic abbreviation: د. أ. م. J.
    if _DOTTED.fullmatch(word) or word.lower() in _ABBREVIATIONS:
        return False  # U.S. / ق.م / Dr.
    # "1. " opening a line is a list number, not the end of a sentence.
    return not (word.isdigit() and len(words) == 1)


def _latin_boundary(line: str, start: int, match: re.Match[str], language: str) -> bool:
    """The rules of cased scripts on top of :func:`_is_boundary`'s."""
    if "!" in match.group() or "?" in match.group():
        return True
    following = line[match.end():].lstrip()
    if following[:1].islower():
        return False
    words = line[start:match.start()].split()
    word = words[-1].lstrip(_OPENERS).casefold() if words else ""
    return word not in _LANGUAGE_ABBREVIATIONS.get(language, frozenset())


def _split_semicolons(sentence: str, long_chars: int) -> list[str]:
    if len(sentence) <= long_chars or _ARABIC_SEMICOLON not in sentence:
        return [sentence]
    parts = sentence.split(_ARABIC_SEMICOLON)
    pieces = [p.strip() + _ARABIC_SEMICOLON for p in parts[:-1]] + [parts[-1].strip()]
    return [p for p in pieces if p.strip(_ARABIC_SEMICOLON + " ")]


def _chunk(piece: str, max_chars: int) -> list[str]:
    chunks: list[str] = []
    while len(piece) > max_chars:
        cut = _chunk_point(piece, max_chars)
        chunks.append(piece[:cut].strip())
        piece = piece[cut:].strip()
    if piece:
        chunks.append(piece)
    return chunks


def _chunk_point(piece: str, max_chars: int) -> int:
    # Do not cut in the first third: tiny fragments translate worse than a long sentence.
    floor = max_chars // 3
    for mark in _CHUNK_MARKS:
        at = piece.rfind(mark, floor, max_chars)
        if at > 0:
            return at + len(mark)
    return max_chars


# --- a package's sentence-boundary model ------------------------------------------------------


class SentenceSplitter:
    """Sentence boundaries with a MiniSBD model (ONNX) when one is given and the ``minisbd``
    runtime is installed, else with :func:`split_sentences`' rules.

    Argos packages made for argostranslate 1.11 may carry such a model in a ``minisbd/``
    folder (argostranslate uses the first ``*.onnx`` there, else downloads one per language;
    Nashra never downloads one). The session is created on first use, so only the thread that
    splits (the translator's worker) pays for it; a runtime that is missing or refuses the
    file means rules, said once in the log.
    """

    def __init__(self, model_file: Path | None, language: str = "ar") -> None:
        self.model_file = model_file
        self.language = language
        self._detector: Any = None

    @classmethod
    def for_package(cls, package_dir: Path, language: str = "ar") -> SentenceSplitter:
        folder = package_dir / "minisbd"
        models = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
        return cls(models[0] if models else None, language)

    def split(self, paragraph: str) -> list[str]:
        detector = self._load() if self.model_file is not None else None
        if detector is None:
            return split_sentences(paragraph, language=self.language)
        sentences: list[str] = []
        # A line break always ends a sentence (headlines, lists), as with the rules.
        for line in paragraph.splitlines():
            if not line.strip():
                continue
            try:
                found = [s.strip() for s in detector.sentences(line) if s.strip()]
            except (ValueError, IndexError, RuntimeError) as exc:
                log.debug("minisbd failed on a line, using rules: %s", exc)
                found = split_sentences(line, language=self.language)
            sentences.extend(limit_length(found))
        return sentences

    def _load(self) -> Any:
        if self._detector is None:
            try:
                # Optional and untyped: imported by name, only when a package ships a model.
                minisbd = importlib.import_module("minisbd")
                self._detector = minisbd.SBDetect(str(self.model_file), use_gpu=False,
                                                  max_threads=1)
            except Exception as exc:  # ImportError, or onnxruntime refusing the file
                log.info("sentence-boundary model unavailable (%s); using rules", exc)
                self.model_file = None
                return None
        return self._detector
