"""Search latency and index size: the stemmed search against exact forms only, in one run.

    uv run python bench/search.py                  # an archive of 100,000 articles
    uv run python bench/search.py --quick          # 10,000
    uv run python bench/search.py --db /tmp/s.db   # keep the archive (reused if it exists)
    uv run python bench/search.py --queries 1000   # more queries (300 by default)

The archive is built through the real store path (Store.insert_articles: folded Arabic and
stems computed in Python and written to search_index; timed as articles stored per second)
from generated Arabic articles (bench/corpus.py, plus Arabic pseudo-names as real news has)
with generated English in the translated fields (no translation; newswire sentences and
pseudo-names, 1.2 words per Arabic word as a translation has), fetched and published over
the last year in id order, as a running bot stores them, by 20 sources with generated
names. Both languages come from a few hundred template words, so most words are in most
articles and most queries have more matches than SEARCH_WINDOW: longer doclists than real
news has (pessimistic for latency), fewer distinct words per article (optimistic for size).
A reused archive from an older schema is migrated when it is opened (9: the backfill of the
stems and the new index; 10: the analysis columns dropped): the report says so and times it.

Queries (seeded, taken from stored articles): one to three words, English and Arabic, some
rare names, some words in an inflected form that only stemming finds (an English word's
plural or verb form, an Arabic word with or without ال و ل بال لل or a plural ending),
"phrases", -exclusions, source:NAME (a part of a generated source name), since:7d or
since:DATE until:DATE, some mixing both scripts. Each runs through bot.search.search() on
the store's read-only connection (Store.reader), one results page of the bot (5 stories).
The report counts the queries that matched nothing, fell back to partial matches, had more
matches than SEARCH_WINDOW (counted apart, untimed) or were found only through stems, and
gives latencies per kind of query and the slowest queries.

The queries run twice: on the index as the store left it (FTS5 keeps it in a dozen pieces
at this size, each looked up by every query word), then after the tidy the bot runs daily
(bot.store.index.tidy_index: one piece; timed). The second is what readers get most of the
day.

Baseline, in the same run: the same queries with every word quoted ("word": that exact form
only, no stems, so the FTS5 expression is a few columns of one token instead of the exact
form and one to twelve stems). Excluded words keep their stems either way (bot/store/fts.py
treats -"word" as -word). Each query runs once untimed per variant, then both timed, in
alternating order so machine noise hits both; the ratios are stemmed / exact.

Sizes come from dbstat: the search index's shadow tables (search_index_*), the covering
index only search reads (articles_search), the analysis columns schema 9 stored beside the
text (title_stems, text_stems, title_folded, text_folded; none from schema 10 on), the
digests' covering index, and the whole database (pages in use and free), against the raw
text (titles and bodies, original and translated, UTF-8). Targets (issue): p95 < 50 ms on
this 2-core machine, search data (shadow tables + articles_search + analysis columns)
< 1.5x the raw text. Printed as PASS/FAIL; nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import corpus  # noqa: E402

from bot.analysis import (  # noqa: E402
    STOPWORDS,
    fold,
    is_arabic,
    words,
)
from bot.config import FeedConfig  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.search import SearchPage, search  # noqa: E402
from bot.store import Store, StoredArticle, fts  # noqa: E402
from bot.store.index import tidy_index  # noqa: E402
from bot.store.migrations import MIGRATIONS  # noqa: E402
from bot.store.search import SEARCH_WINDOW, SearchReader, SearchScope, _scope  # noqa: E402
from bot.terms import query_stems, stem  # noqa: E402

NOW = datetime(2026, 9, 17, 0, 0, tzinfo=UTC)
SPREAD = timedelta(days=365)
FEEDS, BATCH, PER_SEED, QUERIES, PAGE = 20, 500, 600, 300, 5
P95_TARGET_MS, SIZE_TARGET = 50.0, 1.5
RARE = 50   # names past the 50 most common of their 20,000 are "rare"
_EN_TITLES = [
    "{name} says talks in {place} enter a decisive phase",
    "Prices of {goods} rise sharply in {place}", "Heavy rain cuts roads around {place}",
    "Aid convoy reaches {place} as {name} calls for more help",
    "Central bank holds rates; {name} warns of inflation", "Port workers strike in {place}",
]
_EN_GOODS = ["wheat", "fuel", "olive oil", "cement", "medicine", "fertiliser", "dates", "steel"]
# More newswire English for full_english (with corpus._EN): a translation's worth of text.
_EN_SENTENCES = [*corpus._EN, *"""
{name}, a spokesman for the ministry, told reporters in {place} that the plan would be \
reviewed within {n} days.
Officials in {place} said the number of people displaced by the floods had reached {n}.
The price of {goods} has risen by {p} percent since the beginning of the year, traders said.
Opposition parties called on the government to resign after the disputed elections in {place}.
The United Nations envoy met {name} on Sunday to discuss the next round of negotiations.
Local reports said that schools in {place} would remain closed until further notice.
According to the health ministry, {n} new cases were recorded in the past twenty-four hours.
Residents of {place} complained of power cuts lasting up to {n} hours a day.
The court postponed the hearing by {n} days to hear more witnesses, {name} said.
Exports of {goods} fell by {p} percent compared with last year, the customs authority reported.
Analysts expect the central bank to cut interest rates again at its next meeting.
{name} warned that the crisis could spread to neighbouring countries if nothing is done.
Security forces arrested {n} people suspected of smuggling {goods} across the border.
The agreement, signed in {place} by {name}, provides for a free trade zone within {n} months.
Witnesses said several buildings were damaged and roads were blocked near {place}.
""".strip().splitlines()]
_OUTLETS = ["News", "Times", "Daily", "Post", "Today", "Arabic", "Herald", "Observer"]
_PUNCTUATION = ".,،:;?؟!()\"'«»“”-–—"
_DIGIT = re.compile(r"\d")
_STOP = {fold(word) for word in STOPWORDS}


def names(rng: random.Random, letters: str, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 8))))
    return sorted(found)


class Generator:
    """Articles with Arabic originals and English 'translations', from one seed.

    ``full_english``: the English runs about as long as a translation of the Arabic would
    (1.2 words per Arabic word, in paragraphs) instead of 7-13 sentences (what bench/scale.py
    has always stored; its cached archives stay comparable).
    """

    def __init__(self, seed: int = 7, *, full_english: bool = False) -> None:
        self.rng = random.Random(seed)
        self.ar_names = names(self.rng, "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", 20_000)
        self.en_names = [n.capitalize() for n in names(self.rng, "abcdefghiklmnoprstuvw", 20_000)]
        self.full_english = full_english

    def zipf(self, words: list[str]) -> str:
        return words[min(int(self.rng.paretovariate(0.7)) - 1, len(words) - 1)]

    def english(self, arabic_words: int = 0) -> tuple[str, str]:
        rng = self.rng
        fill = {"place": rng.choice(corpus._EN_PLACES), "name": self.zipf(self.en_names),
                "goods": rng.choice(_EN_GOODS)}
        title = rng.choice(_EN_TITLES).format(**fill)
        if self.full_english:
            return title, self.long_english(arabic_words)
        sentences = [rng.choice(corpus._EN).format(
            n=rng.randint(2, 950), p=f"{rng.randint(1, 40)}.{rng.randint(1, 9)}",
            place=rng.choice(corpus._EN_PLACES)) for _ in range(rng.randint(6, 12))]
        sentences.insert(1, f"{self.zipf(self.en_names)} and {self.zipf(self.en_names)} said so.")
        return title, " ".join(sentences)

    def long_english(self, arabic_words: int) -> str:
        """Paragraphs of 3-5 sentences until 1.2 words per Arabic word."""
        rng = self.rng
        target = max(60, int(1.2 * arabic_words))
        paragraphs: list[str] = []
        size = 0
        while size < target:
            sentences = []
            for _ in range(rng.randint(3, 5)):
                template = rng.choice(_EN_SENTENCES)
                sentences.append(template.format(
                    n=rng.randint(2, 950), p=f"{rng.randint(1, 40)}.{rng.randint(1, 9)}",
                    place=rng.choice(corpus._EN_PLACES), name=self.zipf(self.en_names),
                    goods=rng.choice(_EN_GOODS)))
                size += len(sentences[-1].split())
            paragraphs.append(" ".join(sentences))
        return "\n\n".join(paragraphs)

    def articles(self, count: int, feeds: list[int]) -> Iterator[Article]:
        """Publication times are random over SPREAD; build() stores them in fetch order."""
        seed = 1000
        made = 0
        while made < count:
            for text in corpus.generated_articles(min(PER_SEED, count - made), seed=seed):
                title, body = text.split("\n\n", 1)
                title = f"{title} {self.zipf(self.ar_names)}"
                body = f"{self.zipf(self.ar_names)} - {body} {self.zipf(self.ar_names)}"
                en_title, en_text = self.english(len(body.split()))
                when = NOW - SPREAD * self.rng.random()
                url = f"https://news.example/{made}"
                yield Article(feed_id=feeds[made % FEEDS], key=url, url=url, canonical_url=url,
                              published=when, fetched=when, language="ar",
                              title_original=title, text_original=body,
                              title_translated=en_title, text_translated=en_text,
                              lead=en_text[:200], model="bench")
                made += 1
            seed += 1


def feed_configs() -> list[FeedConfig]:
    """FEEDS sources with generated names ("Kortab Daily" at https://kortab.example/rss)."""
    rng = random.Random(5)
    return [FeedConfig(f"https://{word}.example/rss", f"{word.capitalize()} {rng.choice(_OUTLETS)}")
            for word in names(rng, "abdeiklmnorstu", FEEDS)]


def build(store: Store, count: int) -> tuple[float, float]:
    """Store ``count`` articles in batches of BATCH, fetched (and published up to 90 minutes
    earlier) in id order over SPREAD before NOW; (seconds generating, seconds storing)."""
    feeds = [feed.id for feed in store.sync_feeds(feed_configs(), NOW - SPREAD)]
    generating = storing = 0.0
    step = SPREAD / count
    articles = Generator(full_english=True).articles(count, feeds)
    made = 0
    while True:
        start = time.perf_counter()
        batch = []
        for article in (a for _, a in zip(range(BATCH), articles, strict=False)):
            when = NOW - SPREAD + step * (made + 1)
            batch.append(dataclasses.replace(article, fetched=when,
                                             published=when - timedelta(minutes=made % 90)))
            made += 1
        generating += time.perf_counter() - start
        if not batch:
            return generating, storing
        start = time.perf_counter()
        store.insert_articles(batch)
        storing += time.perf_counter() - start
        if made % 20_000 == 0:
            print(f"  {made} articles stored ({storing:.0f} s)", flush=True)


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    kind: str   # word, phrase, not, source, since, until
    text: str


@dataclass(frozen=True)
class BenchQuery:
    kind: str
    terms: tuple[Term, ...]

    def text(self, *, exact: bool = False) -> str:
        """As a reader types it; ``exact``: every word quoted (that form only, no stems)."""
        parts = []
        for term in self.terms:
            if term.kind == "word":
                parts.append(f'"{term.text}"' if exact else term.text)
            elif term.kind == "phrase":
                parts.append(f'"{term.text}"')
            elif term.kind == "not":
                parts.append(f'-"{term.text}"' if exact or " " in term.text else f"-{term.text}")
            else:
                value = f'"{term.text}"' if " " in term.text else term.text
                parts.append(f"{term.kind}:{value}")
        return " ".join(parts)


# The mix of queries: (kind, share).
KINDS = [
    ("en words", 0.14), ("ar words", 0.14), ("en rare name", 0.05), ("ar rare name", 0.05),
    ("en inflected", 0.08), ("ar inflected", 0.08), ("en phrase", 0.06), ("ar phrase", 0.06),
    ("exclusion", 0.08), ("source:", 0.08), ("since:7d", 0.05), ("since: until:", 0.05),
    ("both scripts", 0.08),
]


class QueryMaker:
    """Queries from the archive's stored articles, seeded."""

    def __init__(self, store: Store, seed: int = 3) -> None:
        self.rng = random.Random(seed)
        self.store = store
        self.total = store.count_articles()
        generator = Generator()
        # A generated name's place in its list: the Zipf draw makes the later ones rare.
        self.names = {fold(n): rank for names in (generator.en_names, generator.ar_names)
                      for rank, n in enumerate(names)}
        self.sources = [_source_part(feed.url, feed.name) for feed in store.feeds()]
        # Forms seen in a sample of articles: an inflected form is taken when it is not among
        # them, so that (most likely) only its stem finds it.
        # (A name is rare when at most one of them has it: some generated names are words.)
        self.seen: Counter[str] = Counter()
        for _ in range(min(400, self.total)):
            article = self.article()
            self.seen.update(set(words(f"{article.title_original} {article.text_original} "
                                       f"{article.title_translated} {article.text_translated}")))

    def article(self) -> StoredArticle:
        found = self.store.get_article(self.rng.randint(1, self.total))
        assert found is not None
        return found

    def tokens(self, text: str) -> list[str]:
        """The text's words as written (punctuation stripped), one search token each."""
        found = []
        for raw in text.split():
            token = raw.strip(_PUNCTUATION)
            if token and not _DIGIT.search(token) and len(words(token)) == 1:
                found.append(token)
        return found

    def content(self, text: str) -> list[str]:
        """Words worth searching for: no function words, three letters or more."""
        return [t for t in self.tokens(text) if fold(t) not in _STOP and len(t) >= 3]

    def english_words(self, article: StoredArticle, size: int) -> list[str]:
        tokens = self.content(f"{article.title_translated} {article.text_translated}")
        return [t if fold(t) in self.names else t.lower() for t in self.pick(tokens, size)]

    def arabic_words(self, article: StoredArticle, size: int) -> list[str]:
        tokens = self.content(f"{article.title_original} {article.text_original}")
        return self.pick(tokens, size)

    def pick(self, tokens: list[str], size: int) -> list[str]:
        """``size`` words: neighbours (as people type headlines) or anywhere in the text."""
        if not tokens:
            return []
        if self.rng.random() < 0.6:
            start = self.rng.randrange(max(1, len(tokens) - size + 1))
            chosen = tokens[start:start + size]
        else:
            chosen = [self.rng.choice(tokens) for _ in range(size)]
        return list(dict.fromkeys(chosen))

    def phrase(self, text: str) -> str:
        tokens = self.tokens(text)
        size = self.rng.randint(2, 3)
        start = self.rng.randrange(max(1, len(tokens) - size + 1))
        return " ".join(tokens[start:start + size])

    def rare_names(self, text: str) -> list[str]:
        """The text's names beyond the RARE most common ones, rarest first."""
        found = [t for t in self.tokens(text)
                 if self.names.get(fold(t), 0) >= RARE and self.seen[fold(t)] <= 1]
        return sorted(found, key=lambda t: -self.names[fold(t)])

    def inflected(self, tokens: list[str]) -> str | None:
        """A form of one of ``tokens`` that is not in the text but has the same stem."""
        self.rng.shuffle(tokens)
        for token in tokens:
            folded = fold(token)
            options = [form for form in (_arabic_forms(folded) if is_arabic(folded)
                                         else _english_forms(folded))
                       if form != folded and form not in self.seen
                       and stem(folded) in query_stems(form)]
            if options:
                return self.rng.choice(options)
        return None

    def since_until(self) -> tuple[Term, Term]:
        end = NOW - SPREAD * self.rng.random()
        start = end - timedelta(days=self.rng.choice([1, 3, 7, 30, 90]))
        return Term("since", start.date().isoformat()), Term("until", end.date().isoformat())

    def make(self, kind: str) -> BenchQuery | None:
        rng = self.rng
        article = self.article()
        english = f"{article.title_translated} {article.text_translated}"
        arabic = f"{article.title_original} {article.text_original}"
        terms: list[Term] = []
        if kind == "en words":
            terms = [Term("word", w) for w in self.english_words(article, rng.randint(1, 3))]
        elif kind == "ar words":
            terms = [Term("word", w) for w in self.arabic_words(article, rng.randint(1, 3))]
        elif kind in ("en rare name", "ar rare name"):
            rare = self.rare_names(english if kind.startswith("en") else arabic)
            if not rare:
                return None
            terms = [Term("word", rare[0])]
            if rng.random() < 0.3:   # with a word of its article
                more = (self.english_words if kind.startswith("en") else self.arabic_words)
                terms += [Term("word", w) for w in more(article, 1)]
        elif kind in ("en inflected", "ar inflected"):
            text = english if kind.startswith("en") else arabic
            # Half of them a rare name's form (Kortabs, والقرطب), half a common word's.
            form = self.inflected(self.rare_names(text) if rng.random() < 0.5 else [])
            form = form or self.inflected(self.content(text))
            if form is None:
                return None
            terms = [Term("word", form)]
            if rng.random() < 0.4:
                more = (self.english_words if kind.startswith("en") else self.arabic_words)
                terms += [Term("word", w) for w in more(article, 1)]
        elif kind in ("en phrase", "ar phrase"):
            terms = [Term("phrase", self.phrase(english if kind.startswith("en") else arabic))]
        elif kind == "exclusion":
            make = rng.choice([self.english_words, self.arabic_words])
            other = self.article()
            terms = [Term("word", w) for w in make(article, rng.randint(1, 2))]
            terms += [Term("not", w) for w in make(other, 1)]
        elif kind == "source:":
            make = rng.choice([self.english_words, self.arabic_words])
            terms = [Term("word", w) for w in make(article, rng.randint(1, 2))]
            terms.append(Term("source", rng.choice(self.sources)))
        elif kind == "since:7d":
            make = rng.choice([self.english_words, self.arabic_words])
            terms = [Term("word", w) for w in make(article, rng.randint(1, 2))]
            terms.append(Term("since", rng.choice(["7d", "24h", "2w"])))
        elif kind == "since: until:":
            make = rng.choice([self.english_words, self.arabic_words])
            terms = [Term("word", w) for w in make(article, rng.randint(1, 2))]
            terms += self.since_until()
        elif kind == "both scripts":
            # Often from two articles: then no article has all words (the partial fallback).
            other = article if rng.random() < 0.5 else self.article()
            terms = [Term("word", w) for w in (*self.arabic_words(article, 1),
                                               *self.english_words(other, rng.randint(1, 2)))]
        if not any(t.kind in ("word", "phrase") and t.text for t in terms):
            return None
        return BenchQuery(kind, tuple(terms))

    def queries(self, count: int) -> list[BenchQuery]:
        kinds = [kind for kind, share in KINDS for _ in range(max(1, round(share * count)))]
        kinds = (kinds * (count // len(kinds) + 1))[:count]
        self.rng.shuffle(kinds)
        found = []
        for kind in kinds:
            query = None
            while query is None:
                query = self.make(kind)
            found.append(query)
        return found


def _source_part(url: str, name: str) -> str:
    """What a reader would type after source: for a source: its name's first word, or the
    first label of its host."""
    host = url.split("//", 1)[-1].split("/", 1)[0].removeprefix("www.")
    first = name.split()[0] if name.split() else host
    return first.lower() if len(first) >= 3 and not first.isdigit() else host.split(".")[0]


def _english_forms(word: str) -> list[str]:
    """Plural and verb forms of an English word (Porter2 decides which share its stem)."""
    forms = [word + "s", word + "es", word + "ed", word + "ing"]
    if word.endswith("e"):
        forms += [word + "d", word[:-1] + "ing"]
    if word.endswith("y"):
        forms.append(word[:-1] + "ies")
    if word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    if word.endswith("ed"):
        forms += [word[:-2], word[:-1], word[:-2] + "ing"]
    if word.endswith("ing"):
        forms += [word[:-3], word[:-3] + "e", word[:-3] + "ed"]
    return forms


def _arabic_forms(word: str) -> list[str]:
    """The word with or without the article and the clitics و ل, or with a plural ending."""
    if word.startswith("ال"):
        bare = word[2:]
        forms = [bare, "و" + word, "لل" + bare, "بال" + bare]
    elif word.startswith(("و", "ل", "ب", "ف")) and len(word) > 4:
        bare = word[1:]
        forms = [bare, "ال" + bare, "وال" + bare]
    else:
        bare = word
        forms = ["ال" + word, "و" + word, "ل" + word, "وال" + word, "بال" + word]
    if bare.endswith("ه"):   # ta marbuta, folded
        forms += [bare[:-1] + "ات", "ال" + bare[:-1] + "ات"]
    return forms


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Outcome:
    stemmed: list[float]
    exact: list[float]
    pages: list[SearchPage]
    exact_pages: list[SearchPage]


def timed(reader: SearchReader, text: str) -> tuple[float, SearchPage]:
    start = time.perf_counter()
    page = search(reader, text, limit=PAGE, now=NOW)
    return time.perf_counter() - start, page


def run(store: Store, queries: list[BenchQuery]) -> Outcome:
    """Each query stemmed and exact: once untimed each, then both timed, in turn first."""
    reader = store.reader()
    outcome = Outcome([], [], [], [])
    for i, query in enumerate(queries):
        texts = {"stemmed": query.text(), "exact": query.text(exact=True)}
        for text in texts.values():
            search(reader, text, limit=PAGE, now=NOW)
        order = ["stemmed", "exact"] if i % 2 else ["exact", "stemmed"]
        results = {name: timed(reader, texts[name]) for name in order}
        outcome.stemmed.append(results["stemmed"][0])
        outcome.exact.append(results["exact"][0])
        outcome.pages.append(results["stemmed"][1])
        outcome.exact_pages.append(results["exact"][1])
    return outcome


def matches(store: Store, page: SearchPage) -> int:
    """How many articles the match search() ranked has (all words, else any), in scope."""
    query = page.query
    reader = store.reader()
    feed_ids = reader.search_sources(query.sources) if query.sources else None
    scope = SearchScope(feed_ids, query.since, query.until)
    if query.empty or scope.feed_ids == ():
        return 0
    with store.read_connection().use() as db:
        where, params = _scope(db, scope)
        params["match"] = fts.match(query, any_term=not page.matched_all_terms)
        sql = ("SELECT COUNT(*) FROM search_index s JOIN articles a INDEXED BY articles_search "
               f"ON a.id = s.rowid WHERE search_index MATCH :match{where}")
        return int(db.execute(sql, params).fetchone()[0])


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    if len(seconds) < 2:
        return (seconds[0] * 1000,) * 3 if seconds else (0.0, 0.0, 0.0)
    cuts = statistics.quantiles([s * 1000 for s in seconds], n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


@dataclass
class Sizes:
    shadow: float      # MB, search_index's shadow tables
    analysis: float    # MB, the stems and folded columns
    search_idx: float  # MB, the articles_search covering index
    candidates: float  # MB, the articles_candidates covering index
    database: float    # MB, the whole file (pages in use and free)
    raw: float         # MB, titles and bodies, original and translated
    shadow_tables: dict[str, float]


ANALYSIS_COLUMNS = ("title_stems", "text_stems", "title_folded", "text_folded")


def sizes(store: Store) -> Sizes:
    with store.read_connection().use() as db:
        per = {name: size / 1e6 for name, size in db.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
        stored = [c for c in ANALYSIS_COLUMNS if c in columns]   # schema 9 only
        analysis = db.execute(
            "SELECT SUM(" + " + ".join(f"COALESCE(LENGTH(CAST({c} AS BLOB)), 0)" for c in stored)
            + ") FROM articles").fetchone()[0] if stored else 0
        raw = db.execute(
            "SELECT SUM(LENGTH(CAST(title_original AS BLOB)) + LENGTH(CAST(text_original AS BLOB))"
            " + LENGTH(CAST(title_translated AS BLOB)) + LENGTH(CAST(text_translated AS BLOB)))"
            " FROM articles").fetchone()[0]
        total = db.execute("SELECT page_count * page_size FROM pragma_page_count, "
                           "pragma_page_size").fetchone()[0]
    shadow = {name: mb for name, mb in per.items() if name.startswith("search_index")}
    return Sizes(sum(shadow.values()), (analysis or 0) / 1e6, per.get("articles_search", 0.0),
                 per.get("articles_candidates", 0.0), total / 1e6, (raw or 0) / 1e6, shadow)


def schema_version(path: Path) -> int:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def report(store: Store, built: tuple[float, float] | None, migrated: str | None,
           count: int) -> None:
    articles = store.count_articles()
    if built:
        print(f"archive: {articles} articles stored through Store.insert_articles in "
              f"{built[1]:.1f} s: {articles / built[1]:.0f} articles/s "
              f"({1000 * built[1] / articles:.2f} ms each, folding and stems included; "
              f"generating them took {built[0]:.1f} s more)")
    else:
        print(f"archive: {articles} articles (reused)")
    if migrated:
        print(migrated)
    size = sizes(store)
    index = size.shadow + size.search_idx + size.analysis
    print(f"raw text (titles and bodies, original and translated, UTF-8): {size.raw:.1f} MB; "
          f"database {size.database:.1f} MB")
    print(f"  search_index shadow tables {size.shadow:8.1f} MB  {size.shadow / size.raw:5.2f}x  ("
          + ", ".join(f"{name.removeprefix('search_index_')} {mb:.1f}"
                      for name, mb in sorted(size.shadow_tables.items())) + ")")
    print(f"  articles_search index      {size.search_idx:8.1f} MB  "
          f"{size.search_idx / size.raw:5.2f}x  (id, published, feed_id, story_id)")
    if size.analysis:
        print(f"  analysis columns           {size.analysis:8.1f} MB  "
              f"{size.analysis / size.raw:5.2f}x  ({', '.join(ANALYSIS_COLUMNS)}: schema 9)")
    print(f"  search data = these        {index:8.1f} MB  {index / size.raw:5.2f}x  "
          f"(target < {SIZE_TARGET}x)")
    print(f"  digests' covering index articles_candidates {size.candidates:.1f} MB")

    made = QueryMaker(store).queries(count)
    print(f"As stored (the index in the pieces FTS5 left it in: {index_pieces(store)}):")
    as_stored = run_queries(store, made)
    start = time.perf_counter()
    steps = tidy_index(store.path)
    print(f"After the bot's daily tidy (merged into one piece: {steps} transactions, "
          f"{time.perf_counter() - start:.1f} s):")
    tidied = run_queries(store, made)
    for name, p95 in (("as stored", as_stored), ("after the tidy", tidied)):
        print(f"{'PASS' if p95 < P95_TARGET_MS else 'FAIL'}: p95 {p95:.1f} ms {name} "
              f"(target < {P95_TARGET_MS:.0f} ms)")
    print(f"{'PASS' if index / size.raw < SIZE_TARGET else 'FAIL'}: search data "
          f"{index / size.raw:.2f}x the raw text (target < {SIZE_TARGET}x)")


def index_pieces(store: Store) -> int:
    """How many b-trees ("segments") the index is in: the count in its structure record."""
    with store.read_connection().use() as db:
        block = db.execute("SELECT block FROM search_index_data WHERE id = 10").fetchone()[0]
    _levels, at = _varint(block, 4)   # after a 4-byte cookie: levels, then segments
    return _varint(block, at)[0]


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's varint (big-endian, 7 bits a byte, a ninth byte of 8): value, next offset."""
    value = 0
    for n in range(9):
        byte = data[at]
        at += 1
        if n == 8:
            return (value << 8) | byte, at
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return value, at


def run_queries(store: Store, made: list[BenchQuery]) -> float:
    """Run and report the queries; returns the stemmed p95 in ms."""
    start = time.perf_counter()
    outcome = run(store, made)
    print(f"{len(made)} queries ({PAGE} stories a page), stemmed and exact, run in "
          f"{time.perf_counter() - start:.0f} s")
    empty = sum(not page.hits for page in outcome.pages)
    partial = sum(not page.matched_all_terms for page in outcome.pages)
    counts = [matches(store, page) for page in outcome.pages]
    beyond = sum(c > SEARCH_WINDOW for c in counts)
    only_stems = sum(bool(p.hits) and not e.hits
                     for p, e in zip(outcome.pages, outcome.exact_pages, strict=True))
    print(f"  matched nothing: {empty}; partial matches (no story has every word): {partial}; "
          f"more matches than SEARCH_WINDOW ({SEARCH_WINDOW}): {beyond}; found only through "
          f"stems (the exact query found nothing): {only_stems}")
    print(f"  {'':14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    stemmed_p, exact_p = percentiles(outcome.stemmed), percentiles(outcome.exact)
    for name, values, raw in (("stemmed", stemmed_p, outcome.stemmed),
                              ("exact", exact_p, outcome.exact)):
        print(f"  {name:14}" + "".join(f"{v:9.2f}" for v in values) + f"{max(raw) * 1000:9.2f}")
    print(f"  {'stemmed/exact':14}" + "".join(f"{s / e:9.2f}" for s, e in zip(
        stemmed_p, exact_p, strict=True)) + f"{max(outcome.stemmed) / max(outcome.exact):9.2f}")
    print(f"  by kind (stemmed){'':>6}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
          f"{'exact p50':>11}{'>window':>9}{'empty':>7}")
    kinds = Counter(q.kind for q in made)
    for kind, _ in KINDS:
        at = [i for i, q in enumerate(made) if q.kind == kind]
        if not at:
            continue
        times = [outcome.stemmed[i] for i in at]
        p50, p95, _ = percentiles(times)
        print(f"  {kind:23}{kinds[kind]:4}{p50:9.2f}{p95:9.2f}{max(times) * 1000:9.2f}"
              f"{percentiles([outcome.exact[i] for i in at])[0]:11.2f}"
              f"{sum(counts[i] > SEARCH_WINDOW for i in at):9}"
              f"{sum(not outcome.pages[i].hits for i in at):7}")
    slowest = sorted(range(len(made)), key=lambda i: outcome.stemmed[i], reverse=True)[:5]
    print("  slowest (stemmed): " + "; ".join(
        f"{made[i].text()} {1000 * outcome.stemmed[i]:.1f} ms ({counts[i]} matches)"
        for i in slowest))
    return stemmed_p[1]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 articles")
    parser.add_argument("--articles", type=int, default=None, help="archive size")
    parser.add_argument("--db", type=Path, default=None,
                        help="keep the archive here (reused when it exists)")
    parser.add_argument("--queries", type=int, default=QUERIES, help="how many queries")
    args = parser.parse_args(argv)
    count = args.articles or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "search.db"
        existed = path.exists()
        version = schema_version(path) if existed else 0
        start = time.perf_counter()
        with Store(path) as store:
            opened = time.perf_counter() - start
            migrated = None
            if existed and version < len(MIGRATIONS):
                migrated = (f"archive migrated from schema {version} to {len(MIGRATIONS)} "
                            f"when opened: {opened:.1f} s")
            built = None if existed else build(store, count)
            report(store, built, migrated, args.queries)


if __name__ == "__main__":
    main(sys.argv[1:])
