"""Stories: articles about one event from different feeds, grouped as they are stored.

An article's signature is the set of words of its Arabic title and lead (the first words of
the text), each as its light stem plus the readings without a leading clitic, and its numbers
(Arabic-Indic digits folded): outlets rewrite the same wire copy with other headlines, order
and length, but keep its names, places, figures and key nouns. The translation is not used:
it adds machine-translation noise to a signal the original already carries.

Assignment is incremental: the ``story_terms`` inverted index (rows of articles inside the
window only) finds the recent articles of other feeds that share the new article's rarer
terms, never scanning the archive. Those few candidates are compared word by word, IDF
weighted over the window, and the article joins the best-scoring story that has no article
from its feed yet, if the similarity clears a threshold set to keep stories apart rather
than merge them: a false merge hides news. Two signals lower the similarity because they mark
two events of one kind (two votes, two strikes, two rate decisions): both articles report
figures but share none, or they were published a day or more apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from bot.analysis import ALL_PREFIXES, STOPWORDS, is_arabic, stem_variants, words
from bot.models import Article
from bot.store.stories import StoryAssignment, StoryCandidate

LEAD_WORDS = 80
LEAD_CHARS = 800           # enough text for LEAD_WORDS words; the rest is never tokenised
CANDIDATES = 8             # articles compared in full, found by the index
QUERY_TERMS = 30           # the rarest terms of the new article look for them
# Terms in more than this share of the window are topic words: they do not find candidates.
COMMON_SHARE = 0.05
MIN_COMMON = 8
# IDF needs a window of some size; a young database would otherwise call everything rare.
MIN_WINDOW = 200
# Specific words decide: weights are IDF squared, figures count double.
IDF_POWER = 2.0
NUMBER_WEIGHT = 2.0
THRESHOLD = 0.2
MIN_SHARED = 4             # matched words, at least
NUMBER_CLASH = 0.5         # factor when both report figures and share none
SAME_CYCLE_HOURS = 8       # no time factor within this
DAY_HOURS = 24             # ...falling to TIME_FLOOR at this distance
TIME_FLOOR = 0.5

Word = tuple[str, ...]     # a word's readings, its light stem first


class StoryIndex(Protocol):
    """What assignment needs from the store (bot.store.stories.StoryQueries)."""

    def story_window_size(self, since: datetime) -> int: ...

    def story_term_counts(self, terms: Iterable[str]) -> dict[str, int]: ...

    def story_candidates(self, weights: Mapping[str, float], *, exclude_feed: int,
                         since: datetime, until: datetime,
                         limit: int) -> list[StoryCandidate]: ...

    def story_texts(self, article_ids: Sequence[int],
                    chars: int) -> dict[int, tuple[str, str]]: ...

    def story_feeds(self, story_ids: Iterable[int]) -> dict[int, set[int]]: ...

    def save_stories(self, assignments: Sequence[StoryAssignment]) -> None: ...

    def prune_story_terms(self, before: datetime) -> int: ...


class StoryAssigner:
    """Assigns stories during one refresh; reads each term's window frequency at most once."""

    def __init__(self, index: StoryIndex, *, window: timedelta, now: datetime) -> None:
        self.index, self.window, self.since = index, window, now - window
        self._frequencies: _Frequencies | None = None

    def assign(self, articles: Sequence[Article]) -> int:
        """Index newly stored articles (``id`` set) and put each in the best matching story of
        other feeds; returns how many joined an existing story."""
        fresh = [(article, mine) for article in articles
                 # Unsaved, or already outside the window: it stays its own story.
                 if article.id is not None and article.published >= self.since
                 and (mine := signature(article.title_original,
                                        article.text_original[:LEAD_CHARS]))]
        frequencies = self._load(term for _, mine in fresh for term in terms_of(mine))
        joined = 0
        pending: list[StoryAssignment] = []
        pending_feed = None
        for article, mine in fresh:
            assert article.id is not None
            if pending and article.feed_id != pending_feed:
                self.index.save_stories(pending)  # other feeds' articles must see them
                pending = []
            # Stories this feed joined in the batch are not in the database yet.
            claimed = {a.story_id for a in pending if a.story_id != a.article_id}
            story = _best_story(self.index, article, mine, frequencies, self.window, claimed)
            pending.append(StoryAssignment(article.id, story or article.id, terms_of(mine)))
            pending_feed = article.feed_id
            frequencies.add(pending[-1].terms)
            joined += story is not None
        if pending:
            self.index.save_stories(pending)
        return joined

    def _load(self, terms: Iterable[str]) -> _Frequencies:
        if self._frequencies is None:
            size = self.index.story_window_size(self.since)
            self._frequencies = _Frequencies(self.index, size)
        self._frequencies.load(terms)
        return self._frequencies


def assign_stories(index: StoryIndex, articles: Sequence[Article], *, window: timedelta,
                   now: datetime) -> int:
    """:meth:`StoryAssigner.assign` for one batch."""
    return StoryAssigner(index, window=window, now=now).assign(articles)


def prune(index: StoryIndex, *, window: timedelta, now: datetime) -> int:
    """Drop the index rows of articles that left the window (once per refresh is enough)."""
    return index.prune_story_terms(now - window)


@lru_cache(maxsize=4096)
def signature(title: str, lead: str) -> tuple[Word, ...]:
    """The words an article is compared on: stems, names and numbers of title and lead."""
    found: dict[str, Word] = {}
    for token in words(title) + words(lead[:LEAD_CHARS])[:LEAD_WORDS]:
        word = _word(token)
        if word:
            found.setdefault(word[0], word)
    return tuple(found.values())


def terms_of(signature: Iterable[Word]) -> list[str]:
    """Every reading of every word: what the inverted index stores."""
    return list(dict.fromkeys(term for word in signature for term in word))


def similarity(mine: Sequence[Word], theirs: Sequence[Word],
               weight: Callable[[Word], float]) -> float:
    """Weighted Dice of two signatures (a word matches when any of its readings does), halved
    when both report figures and share none."""
    return _Profile.of(mine, weight).similarity(_Profile.of(theirs, weight))


@dataclass(frozen=True)
class _Profile:
    """A signature with its words' weights, ready to compare with many others."""

    words: tuple[Word, ...]
    weights: tuple[float, ...]
    terms: frozenset[str]
    figures: frozenset[str]
    total: float

    @classmethod
    def of(cls, signature: Sequence[Word], weight: Callable[[Word], float]) -> _Profile:
        weights = tuple(map(weight, signature))
        return cls(tuple(signature), weights, frozenset(t for w in signature for t in w),
                   _figures(signature), sum(weights))

    def similarity(self, other: _Profile) -> float:
        matched = [w for word, w in zip(self.words, self.weights, strict=True)
                   if not other.terms.isdisjoint(word)]
        if len(matched) < MIN_SHARED or not self.total + other.total:
            return 0.0
        shared = sum(matched) + sum(w for word, w in zip(other.words, other.weights, strict=True)
                                    if not self.terms.isdisjoint(word))
        clash = self.figures and other.figures and self.figures.isdisjoint(other.figures)
        return shared / (self.total + other.total) * (NUMBER_CLASH if clash else 1.0)


@lru_cache(maxsize=65536)
def _word(token: str) -> Word:
    if token[0].isdigit():
        return (token,)
    if _is_stopword(token):
        return ()
    if not is_arabic(token):
        return (token,) if len(token) > 1 else ()
    return tuple(s for s in stem_variants(token) if len(s) > 1 and s not in STOPWORDS)


def _is_stopword(token: str) -> bool:
    if token in STOPWORDS:
        return True
    return is_arabic(token) and any(
        token.startswith(prefix) and token[len(prefix):] in STOPWORDS for prefix in ALL_PREFIXES)


def _figures(signature: Sequence[Word]) -> frozenset[str]:
    """The numbers of a signature, years left out (background dates are not the news)."""
    return frozenset(w[0] for w in signature
                     if w[0][0].isdigit() and not (len(w[0]) == 4 and w[0][:2] in ("19", "20")))


def _best_story(index: StoryIndex, article: Article, mine: Sequence[Word],
                frequencies: _Frequencies, window: timedelta,
                claimed: set[int]) -> int | None:
    """The story of other feeds this article belongs to, or None; ``claimed`` stories
    already have an article of its feed."""
    candidates = index.story_candidates(
        frequencies.query(terms_of(mine)), exclude_feed=article.feed_id,
        since=article.published - window, until=article.published + window, limit=CANDIDATES)
    if not candidates:
        return None
    texts = index.story_texts([c.article_id for c in candidates], LEAD_CHARS)
    theirs = {c.article_id: signature(*texts[c.article_id]) for c in candidates}
    frequencies.load(term for found in theirs.values() for term in terms_of(found))
    taken = index.story_feeds({c.story_id for c in candidates})
    for story in claimed:
        taken.setdefault(story, set()).add(article.feed_id)
    profile = _Profile.of(mine, frequencies.weight)
    scores: dict[int, float] = {}
    for candidate in candidates:
        if article.feed_id in taken.get(candidate.story_id, ()):
            continue  # one article per feed in a story
        score = profile.similarity(_Profile.of(theirs[candidate.article_id], frequencies.weight))
        score *= _closeness(article.published, candidate.published)
        scores[candidate.story_id] = max(score, scores.get(candidate.story_id, 0.0))
    story, score = max(scores.items(), key=lambda item: item[1], default=(0, 0.0))
    return story if score >= THRESHOLD else None


def _closeness(one: datetime, other: datetime) -> float:
    """1 for articles hours apart, down to TIME_FLOOR a day apart: the same kind of event a
    day later is usually another event (another vote, strike, match), so it must look more
    alike to join."""
    hours = abs((one - other).total_seconds()) / 3600
    if hours <= SAME_CYCLE_HOURS:
        return 1.0
    share = min(1.0, (hours - SAME_CYCLE_HOURS) / (DAY_HOURS - SAME_CYCLE_HOURS))
    return 1.0 - (1.0 - TIME_FLOOR) * share


class _Frequencies:
    """Document frequencies in the window, read once and then kept current. The window's
    size is taken once: a refresh adds too few articles to move it."""

    def __init__(self, index: StoryIndex, size: int) -> None:
        self.index = index
        self.n = max(size, MIN_WINDOW)
        self.counts: dict[str, int] = {}
        self._idf: dict[str, float] = {}
        self._weights: dict[Word, float] = {}

    def load(self, terms: Iterable[str]) -> None:
        missing = set(terms) - self.counts.keys()
        if missing:
            found = self.index.story_term_counts(missing)
            self.counts.update((term, found.get(term, 0)) for term in missing)

    def add(self, terms: Iterable[str]) -> None:
        for term in terms:
            self.counts[term] = self.counts.get(term, 0) + 1
            self._idf.pop(term, None)
        self._weights.clear()

    def idf(self, term: str) -> float:
        if term not in self._idf:
            self._idf[term] = math.log((self.n + 1) / (self.counts.get(term, 0) + 0.5))
        return self._idf[term]

    def query(self, terms: Iterable[str]) -> dict[str, float]:
        """The rarest terms found elsewhere in the window, by IDF: they find the candidates."""
        common = max(MIN_COMMON, COMMON_SHARE * self.n)
        found = {t: self.idf(t) for t in terms if 0 < self.counts.get(t, 0) <= common}
        if len(found) < MIN_SHARED:
            return {}
        rarest = sorted(found, key=lambda term: -found[term])[:QUERY_TERMS]
        return {term: found[term] for term in rarest}

    def weight(self, word: Word) -> float:
        """A word weighs as its most common reading: that one is usually the real word."""
        if word not in self._weights:
            idf = min(self.idf(term) for term in word) ** IDF_POWER
            self._weights[word] = idf * NUMBER_WEIGHT if word[0][0].isdigit() else idf
        return self._weights[word]



