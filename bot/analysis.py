"""Word-level text analysis shared by stories and per-chat filters: folding, tokens, stems.

Arabic words carry clitics (و ف ب ك ل) and the article (ال) glued to the front, and
number/gender/pronoun endings at the back. Without a lexicon a one-letter clitic cannot be
told from a root letter (بـ+رلمان or برلمان?), so :func:`arabic_stem` only strips the
unambiguous article forms and :func:`stem_variants` adds the reading without the clitic;
matching either reading is what makes وزارة and الوزارة and ووزارة meet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.textnorm import DIGITS, normalize_arabic

_DIGITS = DIGITS  # Eastern Arabic and Persian digits as ASCII
# Numbers keep their decimal part (5.25 is one fact); letters and digits never share a token.
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")
_ARABIC = re.compile("[\u0600-\u06ff]")
MIN_STEM = 3


def _clitic_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prefixes ending in the article, bare clitic prefixes), each longest first."""
    with_article: set[str] = set()
    bare: set[str] = set()
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك", "ل"):
            # ل + ال is spelt لل: the article's alef is dropped.
            with_article.add(conj + ("لل" if prep == "ل" else prep + "ال"))
            if conj + prep:
                bare.add(conj + prep)
    return (tuple(sorted(with_article, key=len, reverse=True)),
            tuple(sorted(bare, key=len, reverse=True)))


ARTICLE_PREFIXES, CLITIC_PREFIXES = _clitic_prefixes()
ALL_PREFIXES = tuple(sorted(ARTICLE_PREFIXES + CLITIC_PREFIXES, key=len, reverse=True))
_PRONOUN_SUFFIXES = ("هما", "كما", "هم", "هن", "ها", "كم", "نا")
_SUFFIXES = ("تين", "تان", "يين", "ات", "ون", "ين", "ان", "يه", "ه", "ي")


def fold(text: str) -> str:
    """Spelling variants folded (see normalize_arabic) and case folded."""
    return normalize_arabic(text).casefold()


# Function words: story signatures and the search index's stems leave them out (they carry
# no meaning a match needs; the search index keeps them as exact words, for phrases).
_ARABIC_STOPWORDS = """
في من إلى الى على عن مع عند منذ حتى خلال بين بعد قبل حول ضد دون عبر لدى نحو تحت فوق أمام
وراء ضمن إثر عقب أن إن لكن بل أو أم ثم إذا لو كي لأن حيث كما مثل غير سوى إلا هذا هذه ذلك تلك
هؤلاء هنا هناك الذي التي الذين اللذين اللتين اللواتي اللاتي ما ماذا متى أين كيف لماذا هو هي
هم هن هما أنا نحن أنت كان كانت يكون تكون كانوا قد لقد سوف لم لن لا ليس ليست كل بعض جميع أي
أحد إحدى نفس ذات فيه فيها عليه عليها منه منها إليه إليها عنه عنها له لها لهم به بها بهم قال
قالت يقول تقول أضاف أضافت يضيف تضيف أعلن أعلنت يعلن تعلن أكد أكدت يؤكد تؤكد أوضح أوضحت أشار
أشارت ذكر ذكرت صرح نقل نقلت وفق وفقا بحسب حسب أفاد أفادت تابع تابعت مضيفا مؤكدا مشيرا موضحا
اليوم أمس غدا الآن أيضا فقط حاليا وقت يوم عام كذلك جرى تم يتم وذلك فيما أكثر أقل بينما إذ
عدد ان او انت اذا وقد وفي ومن
"""
_ENGLISH_STOPWORDS = """
the a an of to in on at for and or but is are was were be been by with from as that this it
its he she they said says has have had will would not no about after against all also any
because before being between both can could did do does during each few further having her
here hers him his how i if into itself just me more most my nor now off once only other our
ours out over own same should so some such than their theirs them then there these those
through too under until up very we what when where which while who whom why you your
"""
STOPWORDS = frozenset(fold(word) for word in (_ARABIC_STOPWORDS + _ENGLISH_STOPWORDS).split())


def words(text: str) -> list[str]:
    """Folded word tokens on word boundaries; Arabic-Indic digits become ASCII."""
    return _TOKEN.findall(fold(text).translate(_DIGITS))


def is_arabic(word: str) -> bool:
    return bool(_ARABIC.match(word))


def strip_arabic_prefix(word: str) -> str:
    """``word`` without its longest clitic/article prefix (و ف ب ك ل ال and combinations),
    as long as at least three letters remain."""
    word = fold(word)
    for prefix in ALL_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            return word[len(prefix):]
    return word


def arabic_stem(word: str) -> str:
    """Light stem: the article forms (ال وال بال لل...) and common endings removed."""
    word = fold(word)
    if not is_arabic(word):
        return word
    return _strip_suffixes(_strip_article(word))


def stem_variants(word: str) -> tuple[str, ...]:
    """The stem, plus the stems read with a leading bare clitic (و ف ب ك ل وب فل...) removed."""
    word = fold(word)
    stem = arabic_stem(word)
    if not is_arabic(word) or _strip_article(word) != word:
        return (stem,)
    readings = [arabic_stem(word[len(prefix):]) for prefix in CLITIC_PREFIXES
                if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM]
    return tuple(dict.fromkeys((stem, *readings)))


def _strip_article(word: str) -> str:
    for prefix in ARTICLE_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM - 1:
            return word[len(prefix):]
    return word


def _strip_suffixes(word: str) -> str:
    for suffix in _PRONOUN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            word = word[:-len(suffix)]
            # حكومتها: the ta marbuta is written ت before a pronoun.
            if word.endswith("ت") and len(word) > MIN_STEM:
                word = word[:-1]
            break
    for _ in range(3):  # اقتصاديين → اقتصادي → اقتصاد; a few rounds at most
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
                word = word[:-len(suffix)]
                break
        else:
            break
    return word


# --- chat filter words ------------------------------------------------------------------------


class TextIndex:
    """Texts' word forms, gathered once for many :meth:`find` calls (a digest tick tests
    every chat's filter words against the same stories)."""

    # Case, diacritics, tatweel and letter variants are ignored, and Arabic text words may
    # carry clitic prefixes (حكومة matches والحكومة and للحكومة). A multi-word entry must
    # match consecutive words. Entries are tokenised, never compiled as patterns.

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = tuple(texts)
        present: set[str] = set()
        for text in self._texts:
            present.update(*map(_forms, set(_tokens(text))))
        self._present = present

    def find(self, words: Sequence[str]) -> str | None:
        """The first of ``words`` (as given) found in the texts on word boundaries."""
        for original, query in _compile(tuple(words)):
            if not all(token in self._present for token in query):
                continue
            if len(query) == 1 or any(_has_sequence([_forms(token) for token in _tokens(text)],
                                                    query) for text in self._texts):
                return original
        return None


@lru_cache(maxsize=4096)  # the distinct word lists of a tick's chats
def _compile(entries: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    compiled: list[tuple[str, tuple[str, ...]]] = []
    for entry in entries:
        tokens = tuple(_query_form(token) for token in words(entry))
        if tokens:
            compiled.append((entry, tokens))
    return tuple(compiled)


def _query_form(token: str) -> str:
    """A searched word without its article: الحكومة finds حكومة as well."""
    if is_arabic(token) and token.startswith("ال") and len(token) - 2 >= MIN_STEM:
        return token[2:]
    return token


@lru_cache(maxsize=16384)  # more than a 48-hour window's titles and texts
def _tokens(text: str) -> tuple[str, ...]:
    # Digests check many chats' words against the same articles: tokenise each text once.
    return tuple(words(text))


@lru_cache(maxsize=65536)
def _forms(token: str) -> frozenset[str]:
    """The token and its readings without a clitic/article prefix."""
    if not is_arabic(token):
        return frozenset((token,))
    found = {token}
    for prefix in ALL_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 2:
            found.add(token[len(prefix):])
    return frozenset(found)


def _has_sequence(index: Sequence[frozenset[str]], query: Sequence[str]) -> bool:
    last = len(index) - len(query)
    return any(all(query[k] in index[start + k] for k in range(len(query)))
               for start in range(last + 1) if query[0] in index[start])
