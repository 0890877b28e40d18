"""Search result snippets: a few words of an article around its first match, matches marked.

The full-text index keeps no copy of the texts, so snippets are cut here, in Python, for the
page of results shown. A snippet is a tuple of :class:`Segment` s, never a string with marker
characters: feed text cannot forge or unbalance the markup, and each front end renders the
segments itself (the bot as escaped HTML, the CLI with :func:`snippet_text`).

Matching follows the index (:mod:`bot.terms`): a text word matches a query word by its folded
form or by its stem, ``exact_words`` by folded form only, and ``phrases`` as consecutive folded
tokens. The shown text keeps the original characters (spelling, diacritics, case,
punctuation); whitespace runs become single spaces, and private-use and control characters
are removed.

Articles run to thousands of words, and folding (its translate tables are slow on Arabic
text) or stemming every word would cost milliseconds a result. So the text is read a chunk at
a time, up to its first match. A chunk is folded as far as the query needs by a few quick
whole-string calls (NFKC, tashkeel, letter forms, case) and searched with ``str.find`` for
candidates: the query's words, and the first letters of words with a query stem (after any
clitics and article, for Arabic; numbers in each digit script). Only the candidates' words
and the window shown are split into runs, folded and stemmed.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby, product
from operator import itemgetter

from bot.analysis import _DIGITS, _TOKEN, CLITIC_PREFIXES, fold, is_arabic, strip_arabic_prefix
from bot.terms import query_stems, stem


@dataclass(frozen=True)
class Segment:
    """A piece of a snippet's text; ``match``: a word the query matched (shown bold)."""

    text: str
    match: bool


Snippet = tuple[Segment, ...]

ELLIPSIS = "…"
# Private-use characters (the old highlight markers among them), C0 controls other than
# whitespace (whitespace, \x1c-\x1f included, becomes single spaces anyway) and DEL.
_UNSAFE = re.compile("[\x00-\x08\x0e-\x1b\x7f\ue000-\uf8ff\U000f0000-\U0010ffff]")
# What fold() removes (bot.textnorm: tashkeel, tatweel, the zero-width non-joiner inside
# Persian words), and Latin combining marks, belong
# to the word they sit on, though ``\w`` leaves marks out. A decimal point between digits is
# part of the number, as in bot.analysis tokens (5.25, ٥٫٢٥).
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u200c"
_RUN = re.compile(rf"((?:[^\W_]|[{_MARKS}]|(?<=\d)[.٫](?=\d))+)")
_REMOVED = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640\u200c]")  # no +
# The letters fold() merges (bot.textnorm), for str.replace: quicker than a translate table.
_LETTERS = (("آ", "ا"), ("أ", "ا"), ("إ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ة", "ه"),
            ("ی", "ي"), ("ک", "ك"), ("ۀ", "ه"), ("ھ", "ه"), ("ە", "ه"), ("ۃ", "ه"))
# Digits are written in one script a number; a decimal point as . or ٫.
_DIGIT_SCRIPTS = ("0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹")
# Before an Arabic stem, a word holds at most an article form and a clitic: وبال + ك.
_PREFIX_LETTERS = frozenset("وفبكلا")
_MAX_PREFIX = 6
_CHUNK = 1500  # characters read at a time; most articles match in their first


@dataclass(frozen=True)
class _Needle:
    """A string to look for in the searched text, where a matching token may begin."""

    text: str
    number: bool          # a number: no digit may precede it
    after_prefix: bool    # an Arabic stem: clitics and the article (ال وال بال لل…) may


@dataclass(frozen=True)
class _Query:
    exact: frozenset[str]                  # folded forms that match as they are
    stems: frozenset[str]                  # stems that match
    phrases: tuple[tuple[str, ...], ...]   # two tokens or more, consecutive
    needles: tuple[_Needle, ...]           # found where every match begins (and elsewhere)
    arabic: bool                           # a needle is Arabic: search without tashkeel
    cased: bool                            # a needle has case: search case-folded

    def matches(self, token: str) -> bool:
        return token in self.exact or (bool(self.stems) and stem(token) in self.stems)


def make_snippet(texts: Sequence[str], words: Sequence[str],
                 phrases: Sequence[Sequence[str]] = (), exact_words: Sequence[str] = (),
                 *, width: int = 18) -> Snippet:
    """A window of about ``width`` words around the first match in the first of ``texts``
    that has one (callers pass e.g. [text_translated, title_translated] for English queries
    and [text_original, title_original] for Arabic), matches marked; "…" segments where the
    window cuts the text. Empty tuple when nothing matches.

    ``words`` match a text word by folded form (as :func:`bot.analysis.words` gives) or by
    stem (:func:`bot.terms.query_stems`), ``exact_words`` by folded form only; a phrase's
    tokens must follow one another, and each word of an occurrence is marked. Words are what
    whitespace separates; a match marks the letters and digits of the word that hold it
    (``(الحكومة)،`` shows its brackets and comma unmarked). The window starts ``width // 3``
    words before the first match, earlier near the end of the text so as to show ``width``
    words. Segments alternate between unmatched and matched text, and none is empty.
    """
    query = _compile(tuple(words), tuple(map(tuple, phrases)), tuple(exact_words))
    if query is None:
        return ()
    for text in texts:
        snippet = _snippet(text, query, max(1, width)) if text else ()
        if snippet:
            return snippet
    return ()


def snippet_text(snippet: Snippet, start: str = "[", end: str = "]") -> str:
    """The snippet as plain text, matches between ``start`` and ``end``."""
    return "".join(f"{start}{segment.text}{end}" if segment.match else segment.text
                   for segment in snippet)


# --- query --------------------------------------------------------------------------------------


def _folded(text: str) -> str:
    return fold(text).translate(_DIGITS)


@lru_cache(maxsize=256)  # a page's snippets share one query
def _compile(words: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
             exact_words: tuple[str, ...]) -> _Query | None:
    words = tuple(word for word in map(_folded, words) if word)
    exact = {*words, *(word for word in map(_folded, exact_words) if word)}
    long_phrases: list[tuple[str, ...]] = []
    for phrase in phrases:
        tokens = tuple(token for token in map(_folded, phrase) if token)
        if len(tokens) == 1:
            exact.add(tokens[0])
        elif tokens:
            long_phrases.append(tokens)
    stems = frozenset(s for word in words for s in query_stems(word) if s)
    if not exact and not long_phrases and not stems:
        return None
    needles: dict[str, _Needle] = {}

    def add(head: str, number: bool, after_prefix: bool, y_for_i: bool = False) -> None:
        for text in _spellings(head, y_for_i):
            known = needles.get(text)
            needles[text] = _Needle(text, number, after_prefix or bool(known
                                                                       and known.after_prefix))

    for token in sorted(exact | {phrase[0] for phrase in long_phrases}):
        if token[0].isdigit():
            add(token, True, False)
        elif is_arabic(token):   # a few letters, after the article: most words have it
            add(strip_arabic_prefix(token)[:3], False, True)
        else:
            add(token, False, False)
    for s in sorted(stems):
        if s[0].isdigit():      # a number is its own stem
            add(s, True, False)
        elif not is_arabic(s):
            add(_english_head(s), False, False, y_for_i=True)
        elif not any(s.startswith(c) and s[len(c):] in stems for c in CLITIC_PREFIXES):
            add(s[:3], False, True)  # وحكوم is found as حكوم after a clitic
    texts = "".join(needles)
    return _Query(frozenset(exact), stems, tuple(dict.fromkeys(long_phrases)),
                  tuple(needles.values()), arabic=any(is_arabic(char) for char in texts),
                  cased=texts != texts.upper())


def _english_head(stem_: str) -> str:
    """How every word with this (Porter2) stem begins: its first three letters, but y may be
    read as i (cry, cri) and an e added to a short stem (using, use), so a stem of three
    letters or fewer vouches for two."""
    return stem_[:3] if len(stem_) > 3 else stem_[:2]


def _spellings(folded: str, y_for_i: bool = False) -> list[str]:
    """The ways ``folded`` may be written in searched text (:func:`_searchable`): digits in
    any script, and with y for i in the head of an English stem."""
    options: list[str] = []
    scripts = _DIGIT_SCRIPTS if any("0" <= char <= "9" for char in folded) else _DIGIT_SCRIPTS[:1]
    for digits in scripts:
        choices = [digits[int(char)] if "0" <= char <= "9" else ".٫" if char == "."
                   else "iy" if y_for_i and char in "iy" else char
                   for char in folded]
        options.extend("".join(chars) for chars in product(*choices))
    return list(dict.fromkeys(options))


# --- text ---------------------------------------------------------------------------------------


class _Words:
    """A text's whitespace-delimited words, split a chunk at a time as they are needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: list[str] = []
        self.read = 0

    @property
    def complete(self) -> bool:
        return self.read >= len(self.text)

    def more(self) -> list[str] | None:
        """The next chunk's words (perhaps none); None at the end of the text."""
        if self.complete:
            return None
        cut = self.text.find(" ", self.read + _CHUNK)
        cut = len(self.text) if cut < 0 else cut
        found = self.text[self.read:cut].split()
        self.words.extend(found)
        self.read = cut
        return found

    def ensure(self, count: int) -> int:
        """How many words there are, reading on until ``count`` or the end."""
        while len(self.words) < count and self.more() is not None:
            pass
        return len(self.words)


def _snippet(text: str, query: _Query, width: int) -> Snippet:
    words = _Words(text)
    first = _first_match(words, query)
    if first is None:
        return ()
    reach = max((len(phrase) for phrase in query.phrases), default=1) - 1
    # One word past the window (and a phrase's reach) shows whether the text goes on.
    count = words.ensure(max(0, first - width // 3) + width + reach + 1)
    start = max(0, min(first - width // 3, count - width))
    end = min(count, start + width)
    marked = _marked(words, start, end, reach, query)
    shown = words.words[start:end]
    clean = not _UNSAFE.search("".join(shown))
    pieces: list[tuple[str, bool]] = [(ELLIPSIS if start else "", False)]
    for i, word in enumerate(shown, start):
        runs = marked.get(i)
        parts = _split(word).parts if runs else (word,)
        if not clean:
            parts = tuple(_UNSAFE.sub("", part) for part in parts)
            if not any(parts):   # a word of markers alone
                continue
        if len(pieces) > 1:
            pieces.append((" ", False))
        if runs:
            pieces.extend((part, j % 2 == 1 and j // 2 in runs) for j, part in enumerate(parts))
        else:
            pieces.append((parts[0], False))
    pieces.append((ELLIPSIS if end < count else "", False))
    return _merged(pieces)


@dataclass(frozen=True)
class _Word:
    parts: tuple[str, ...]                 # gap, run, gap, …, gap: (covid-19), has two runs
    runs: tuple[tuple[str, ...], ...]      # each run's folded tokens
    tokens: tuple[str, ...]                # all of them


@lru_cache(maxsize=8192)  # news repeats its words
def _split(word: str) -> _Word:
    """A whitespace-delimited word's runs of letters and digits, and their folded tokens."""
    parts = tuple(_RUN.split(word))
    runs = parts[1::2]
    lines = _folded("\n".join(runs)).split("\n")   # folding makes no newlines
    if len(lines) != len(runs):
        lines = [_folded(run) for run in runs]
    tokens = tuple(tuple(_TOKEN.findall(line)) for line in lines)
    return _Word(parts, tokens, tuple(token for found in tokens for token in found))


def _searchable(words: list[str], query: _Query) -> str:
    """``words`` newline-joined and folded as far as the needles need (digits are left to
    their spellings); a line a word."""
    text = unicodedata.normalize("NFKC", "\n".join(words))
    if query.arabic:
        text = _REMOVED.sub("", text)
        for variant, letter in _LETTERS:
            text = text.replace(variant, letter)
    if query.cased:
        text = text.casefold()
    if text.count("\n") != len(words) - 1:   # none of these makes or removes a newline
        text = "\n".join(map(_folded, words))
    return text


def _first_match(words: _Words, query: _Query) -> int | None:
    """The index of the first word that holds a match or the start of a phrase occurrence."""
    searched = 0
    while searched < len(words.words) or words.more() is not None:
        # Checking a phrase may have read words ahead: they are searched next.
        begin, searched = searched, len(words.words)
        chunk = words.words[begin:searched]
        if chunk and (found := _first_in(chunk, begin, words, query)) is not None:
            return found
    return None


def _first_in(chunk: list[str], begin: int, words: _Words, query: _Query) -> int | None:
    """:func:`_first_match` in ``chunk``, the words from index ``begin``: the needles'
    occurrences in text order, each word checked once."""
    text = _searchable(chunk, query)
    heap = [(at, k) for k, needle in enumerate(query.needles)
            if (at := text.find(needle.text)) >= 0]
    heapq.heapify(heap)
    line, counted, checked = 0, 0, 0
    while heap:
        at, k = heap[0]
        needle = query.needles[k]
        following = text.find(needle.text, at + 1)
        if following < 0:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following, k))
        if at < checked or not _begins_token(text, at, needle):
            continue
        line += text.count("\n", counted, at)
        counted = at
        checked = text.find("\n", at)   # needles further in this word need no check
        if checked < 0:
            checked = len(text)
        if _holds_match(words, begin + line, query):
            return begin + line
    return None


def _begins_token(text: str, at: int, needle: _Needle) -> bool:
    """Whether a token can begin at ``at`` (or, for an Arabic stem, after prefix letters)."""
    if _token_start(text, at, needle.number):
        return True
    if needle.after_prefix:
        for start in range(at - 1, max(-1, at - _MAX_PREFIX - 1), -1):
            if text[start] not in _PREFIX_LETTERS:
                break
            if _token_start(text, start, False):
                return True
    return False


def _token_start(text: str, at: int, number: bool) -> bool:
    """Whether a token (see bot.analysis: letters, or digits) can begin at ``at``."""
    if at == 0:
        return True
    before = text[at - 1]
    if number:
        return not before.isdecimal()
    return not before.isalnum() or before.isdecimal()


def _holds_match(words: _Words, i: int, query: _Query) -> bool:
    tokens = _split(words.words[i]).tokens
    return any(query.matches(token) or any(
        token == phrase[0] and _tokens_after(words, i, tokens[k + 1:], len(phrase) - 1)
        == phrase[1:] for phrase in query.phrases) for k, token in enumerate(tokens))


def _tokens_after(words: _Words, i: int, rest: tuple[str, ...],
                  count: int) -> tuple[str, ...]:
    """``count`` tokens: ``rest`` (those left in word ``i``), then the next words'."""
    tokens = rest[:count]
    while len(tokens) < count and i + 1 < words.ensure(i + 2):
        i += 1
        tokens += _split(words.words[i]).tokens[:count - len(tokens)]
    return tokens


def _marked(words: _Words, start: int, end: int, reach: int,
            query: _Query) -> dict[int, set[int]]:
    """For each word in words[start:end] with runs (see :func:`_split`) that hold a match or
    belong to a phrase occurrence (which may begin or end up to ``reach`` tokens outside the
    window), their indexes."""
    marked: dict[int, set[int]] = {}
    for i in range(start, end):
        for r, found in enumerate(_split(words.words[i]).runs):
            if any(map(query.matches, found)):
                marked.setdefault(i, set()).add(r)
    if not query.phrases:
        return marked
    low, high = start, end
    before = after = 0
    while before < reach and low > 0:
        low -= 1
        before += len(_split(words.words[low]).tokens)
    while after < reach and high < words.ensure(high + 1):
        after += len(_split(words.words[high]).tokens)
        high += 1
    tokens: list[str] = []
    owners: list[tuple[int, int]] = []
    for i in range(low, high):
        for r, found in enumerate(_split(words.words[i]).runs):
            tokens.extend(found)
            owners.extend([(i, r)] * len(found))
    for phrase in query.phrases:
        size = len(phrase)
        for k in range(len(tokens) - size + 1):
            if tokens[k] == phrase[0] and tuple(tokens[k:k + size]) == phrase:
                for i, r in owners[k:k + size]:
                    if start <= i < end:
                        marked.setdefault(i, set()).add(r)
    return marked


def _merged(pieces: list[tuple[str, bool]]) -> Snippet:
    """Segments of the pieces, neighbours of one kind joined, empty ones dropped."""
    return tuple(Segment("".join(text for text, _ in group), match)
                 for match, group in groupby((piece for piece in pieces if piece[0]),
                                             key=itemgetter(1)))
