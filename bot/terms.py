"""One analyser for the search index and for queries: exact forms and stems, both languages.

The index holds what this module produces in its columns (written by the store,
:mod:`bot.store.index`; the same columns can feed PostgreSQL's ``tsvector``):

- exact forms: the English translation as written (the full-text tokenizer lower-cases it)
  and the Arabic original folded (:func:`bot.textnorm.normalize_arabic`: diacritics,
  tatweel, alef/ya/ta marbuta forms);
- stems of both, one token per word, in one column per field: English by Snowball's Porter2
  (``election``, ``elections``, ``elected`` → ``elect``), Arabic by
  :func:`bot.analysis.arabic_stem`, which removes the article forms (ال وال بال لل…) and the
  common endings (ة ات ون ين ها هم ية…): الحكومة, حكومة, حكومات, للحكومات → حكوم.

A bare one-letter clitic (و ف ب ك ل without the article) cannot be told from a root letter
without a lexicon, so the index keeps it (وحكومة → وحكوم) and a query asks for the stem with
and without each clitic (:func:`query_stems`). Scripts keep the languages apart: Arabic words
only occur in the Arabic fields, Latin words in the English ones.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import Stemmer

from bot.analysis import (
    CLITIC_PREFIXES,
    STOPWORDS,
    arabic_stem,
    is_arabic,
    stem_variants,
    words,
)

_local = threading.local()  # Snowball stemmers keep per-call state: one per thread


def _english() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_local, "english", None)
    if stemmer is None:
        stemmer = _local.english = Stemmer.Stemmer("english")
    return stemmer




@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """The stem of one folded token (see :func:`bot.analysis.words`); numbers unchanged."""
    if is_arabic(token):
        return arabic_stem(token)
    if token[:1].isdigit():
        return token
    return str(_english().stemWord(token))


def stems_text(text: str) -> str:
    """What a stems column holds for ``text``: the stem of every word but function words."""
    return " ".join(stem(token) for token in words(text) if token not in STOPWORDS)


def query_stems(token: str) -> tuple[str, ...]:
    """The stems a query word matches: its stem, and for Arabic the stem read without a bare
    clitic and with each clitic in front (حكومة also finds وحكومة and لحكومة)."""
    if not is_arabic(token):
        return (stem(token),)
    readings = stem_variants(token)
    with_clitics = (prefix + reading for reading in readings for prefix in CLITIC_PREFIXES)
    return tuple(dict.fromkeys((*readings, *with_clitics)))


def field_stems(translated: str, original: str) -> str:
    """A field's stems column: the translation's stems, then the original's (once when the
    article was in English to begin with)."""
    if original == translated:
        return stems_text(original)
    return f"{stems_text(translated)} {stems_text(original)}".strip()
