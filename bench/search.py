"""Search latency: rank ids in the index and read only the page shown, against the old query.

    uv run python bench/search.py                  # an archive of 100,000 articles
    uv run python bench/search.py --quick          # 10,000
    uv run python bench/search.py --db /tmp/s.db   # keep the archive (reused if it exists)

The archive is built through the real store path (Store.insert_articles, FTS5 triggers) from
generated Arabic articles (bench/corpus.py, plus Arabic pseudo-names as real news has) with
generated English in the translated fields (no translation), published over the last year.
Then 200 mixed queries (one to three words, Arabic and English, some "phrases", some rare
names, some mixing both scripts) run through bot.search.search() on the store's read-only
connection, and through a copy of the old path (one query that reads every match's article
and snippet before ORDER BY/LIMIT) on the same connection. Each query runs once untimed,
then timed in alternating order. Latencies are per results page of the bot (5 results);
ratios are new/old in this run. Both paths' pages are compared; nothing is asserted.

The new path ranks only a query's newest SEARCH_WINDOW matches (bot/store/search.py), so
its pages differ from the old path's for queries matching more articles than that: this
generated archive's publication dates are random, not in storage order as a refresh
stores them. The report counts those queries and where the pages differ.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import corpus  # noqa: E402

from bot.config import FeedConfig  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.search import SearchPage, _readable_snippet, parse_query, search  # noqa: E402
from bot.store import SearchRow, Store  # noqa: E402
from bot.store.base import HIGHLIGHT_END, HIGHLIGHT_START, to_db_time  # noqa: E402
from bot.store.records import ARTICLE_COLUMNS, stored_article  # noqa: E402
from bot.store.search import SEARCH_WINDOW  # noqa: E402

NOW = datetime(2026, 9, 17, 0, 0, tzinfo=UTC)
SPREAD = timedelta(days=365)
FEEDS, BATCH, PER_SEED, QUERIES, PAGE = 20, 500, 600, 200, 5
_EN_TITLES = [
    "{name} says talks in {place} enter a decisive phase",
    "Prices of {goods} rise sharply in {place}", "Heavy rain cuts roads around {place}",
    "Aid convoy reaches {place} as {name} calls for more help",
    "Central bank holds rates; {name} warns of inflation", "Port workers strike in {place}",
]
_EN_GOODS = ["wheat", "fuel", "olive oil", "cement", "medicine", "fertiliser", "dates", "steel"]

# The single query the search used before: every match's article and snippet, then sort.
OLD_SEARCH = f"""
SELECT {ARTICLE_COLUMNS},
       snippet(articles_fts, -1, :hs, :he, '…', 16) AS snippet,
       bm25(articles_fts, 8.0, 1.0, 6.0, 1.0)
         * (1.0 + 1.0 / (1.0 + MAX(julianday(:now) - julianday(a.published), 0) / 3.0))
         AS score
FROM articles_fts
JOIN articles a ON a.id = articles_fts.rowid
JOIN feeds f ON f.id = a.feed_id
WHERE articles_fts MATCH :match
ORDER BY score
LIMIT :limit OFFSET :offset
"""


def names(rng: random.Random, letters: str, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 8))))
    return sorted(found)


class Generator:
    """Articles with Arabic originals and English 'translations', from one seed."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.ar_names = names(self.rng, "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", 20_000)
        self.en_names = [n.capitalize() for n in names(self.rng, "abcdefghiklmnoprstuvw", 20_000)]

    def zipf(self, words: list[str]) -> str:
        return words[min(int(self.rng.paretovariate(0.7)) - 1, len(words) - 1)]

    def english(self) -> tuple[str, str]:
        rng = self.rng
        fill = {"place": rng.choice(corpus._EN_PLACES), "name": self.zipf(self.en_names),
                "goods": rng.choice(_EN_GOODS)}
        title = rng.choice(_EN_TITLES).format(**fill)
        sentences = [rng.choice(corpus._EN).format(
            n=rng.randint(2, 950), p=f"{rng.randint(1, 40)}.{rng.randint(1, 9)}",
            place=rng.choice(corpus._EN_PLACES)) for _ in range(rng.randint(6, 12))]
        sentences.insert(1, f"{self.zipf(self.en_names)} and {self.zipf(self.en_names)} said so.")
        return title, " ".join(sentences)

    def articles(self, count: int, feeds: list[int]) -> Iterator[Article]:
        seed = 1000
        made = 0
        while made < count:
            for text in corpus.generated_articles(min(PER_SEED, count - made), seed=seed):
                title, body = text.split("\n\n", 1)
                title = f"{title} {self.zipf(self.ar_names)}"
                body = f"{self.zipf(self.ar_names)} - {body} {self.zipf(self.ar_names)}"
                en_title, en_text = self.english()
                when = NOW - SPREAD * self.rng.random()
                url = f"https://news.example/{made}"
                yield Article(feed_id=feeds[made % FEEDS], key=url, url=url, canonical_url=url,
                              published=when, fetched=when, language="ar",
                              title_original=title, text_original=body,
                              title_translated=en_title, text_translated=en_text,
                              lead=en_text[:200], model="bench")
                made += 1
            seed += 1


def build(store: Store, count: int) -> tuple[float, float]:
    """Store ``count`` articles in batches of BATCH; (seconds generating, seconds storing)."""
    configs = [FeedConfig(f"https://feed{i}.example/rss", f"feed {i}") for i in range(FEEDS)]
    feeds = [feed.id for feed in store.sync_feeds(configs, NOW - SPREAD)]
    generating = storing = 0.0
    batch: list[Article] = []
    articles = Generator().articles(count, feeds)
    while True:
        start = time.perf_counter()
        batch = [a for _, a in zip(range(BATCH), articles, strict=False)]
        generating += time.perf_counter() - start
        if not batch:
            return generating, storing
        start = time.perf_counter()
        store.insert_articles(batch)
        storing += time.perf_counter() - start


def queries(store: Store, count: int, seed: int = 3) -> list[str]:
    """Words and phrases taken from stored articles, in the proportions of the docstring."""
    rng = random.Random(seed)
    total = store.count_articles()
    found: list[str] = []
    while len(found) < count:
        article = store.get_article(rng.randint(1, total))
        assert article is not None
        kind = rng.random()
        if kind < 0.1:   # both scripts: often no article has all words (any-word fallback)
            words = [rng.choice(article.title_original.split()),
                     rng.choice(article.text_translated.split())]
        else:
            text = article.text_original if kind < 0.55 else article.text_translated
            if rng.random() < 0.15:     # a rare name
                text = (article.title_original if kind < 0.55 else article.text_translated)
                text = " ".join(w for w in text.split() if w[:1].isupper() or len(w) >= 4)
            tokens = text.split()
            size = rng.randint(1, 3)
            start = rng.randrange(max(1, len(tokens) - size))
            words = tokens[start:start + size]
        query = " ".join(w.strip(".,،:;?؟!()\"'") for w in words)
        if len(words) > 1 and rng.random() < 0.3:
            query = f'"{query}"'
        if not parse_query(query).empty:
            found.append(query)
    return found


def old_search(store: Store, text: str, limit: int = PAGE, offset: int = 0) -> SearchPage:
    """bot.search.search() as it was: the single query, for the fallback check too."""
    query = parse_query(text)
    match, matched_all = query.match_all(), True
    if len(query.terms) > 1 and not _old_rows(store, match, 1, 0):
        match, matched_all = query.match_any(), False
    rows = _old_rows(store, match, limit + 1, offset)
    hits = [_readable_snippet(row, query) for row in rows[:limit]]
    return SearchPage(text, hits, offset, limit, len(rows) > limit, matched_all)


def _old_rows(store: Store, match: str, limit: int, offset: int) -> list[SearchRow]:
    params = {"match": match, "limit": limit, "offset": offset, "now": to_db_time(NOW),
              "hs": HIGHLIGHT_START, "he": HIGHLIGHT_END}
    with store.read_connection().use() as db:
        rows = db.execute(OLD_SEARCH, params).fetchall()
    return [SearchRow(stored_article(row), row["snippet"], row["score"]) for row in rows]


def timed(run: Callable[[], SearchPage]) -> tuple[float, SearchPage]:
    start = time.perf_counter()
    page = run()
    return time.perf_counter() - start, page


def compare(store: Store, texts: list[str]) -> tuple[list[float], list[float], list[bool]]:
    """Latencies (old, new) in seconds, and whether each query's pages differ."""
    reader = store.reader()
    old_times: list[float] = []
    new_times: list[float] = []
    differ: list[bool] = []
    for i, text in enumerate(texts):
        runs = {"old": lambda t=text: old_search(store, t),
                "new": lambda t=text: search(reader, t, limit=PAGE, now=NOW)}
        for run in runs.values():
            run()   # untimed: the same page cache state for both
        order = ["old", "new"] if i % 2 else ["new", "old"]
        results = {name: timed(runs[name]) for name in order}
        old_times.append(results["old"][0])
        new_times.append(results["new"][0])
        differ.append(_page_key(results["old"][1]) != _page_key(results["new"][1]))
    return old_times, new_times, differ


def _page_key(page: SearchPage) -> object:
    return ([(h.article.id, h.snippet, round(h.score, 9)) for h in page.hits], page.has_more,
            page.matched_all_terms)


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles([s * 1000 for s in seconds], n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def index_size(store: Store) -> tuple[float, float]:
    """MB of the full-text index (its shadow tables) and of the whole database."""
    with store.read_connection().use() as db:
        fts = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'articles_fts%'")
        total = db.execute("SELECT page_count * page_size FROM pragma_page_count, "
                           "pragma_page_size").fetchone()[0]
        return fts.fetchone()[0] / 1e6, total / 1e6


def raw_text_size(store: Store) -> float:
    """MB of the articles' text as fetched and translated (titles and bodies, UTF-8)."""
    with store.read_connection().use() as db:
        return db.execute(
            "SELECT SUM(LENGTH(CAST(title_original AS BLOB)) + LENGTH(CAST(text_original AS BLOB))"
            " + LENGTH(CAST(title_translated AS BLOB)) + LENGTH(CAST(text_translated AS BLOB)))"
            " FROM articles").fetchone()[0] / 1e6


def beyond_window(store: Store, text: str) -> bool:
    """Whether the match search() ranks (all words, else any) has more than the window."""
    query = parse_query(text)
    sql = "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH :m"
    with store.read_connection().use() as db:
        count = db.execute(sql, {"m": query.match_all()}).fetchone()[0]
        if count == 0 and len(query.terms) > 1:
            count = db.execute(sql, {"m": query.match_any()}).fetchone()[0]
    return bool(count > SEARCH_WINDOW)


def report(store: Store, built: tuple[float, float] | None) -> None:
    count = store.count_articles()
    fts_mb, total_mb = index_size(store)
    if built:
        print(f"archive: {count} articles stored in {built[1]:.1f}s "
              f"({1000 * built[1] / count:.2f} ms each; generating them took {built[0]:.1f}s)")
    else:
        print(f"archive: {count} articles (reused)")
    print(f"full-text index {fts_mb:.0f} MB of a {total_mb:.0f} MB database; "
          f"the raw text (titles and bodies, original and translated) is "
          f"{raw_text_size(store):.0f} MB")
    texts = queries(store, QUERIES)
    old, new, differ = compare(store, texts)
    beyond = [beyond_window(store, text) for text in texts]
    print(f"{len(texts)} queries, {PAGE} results a page; {sum(beyond)} match more than the "
          f"{SEARCH_WINDOW}-article window; pages that differ: {sum(differ)} "
          f"({sum(d and not b for d, b in zip(differ, beyond, strict=True))} within the window)")
    print(f"{'':12}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    old_p, new_p = percentiles(old), percentiles(new)
    for name, values in (("old", old_p), ("new", new_p)):
        print(f"{name:12}" + "".join(f"{v:10.2f}" for v in values))
    print(f"{'new / old':12}" + "".join(f"{n / o:10.3f}" for n, o in zip(new_p, old_p,
                                                                        strict=True)))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 articles")
    parser.add_argument("--articles", type=int, default=None, help="archive size")
    parser.add_argument("--db", type=Path, default=None,
                        help="keep the archive here (reused when it exists)")
    args = parser.parse_args(argv)
    count = args.articles or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "search.db"
        existed = path.exists()
        with Store(path) as store:
            built = None if existed else build(store, count)
            report(store, built)


if __name__ == "__main__":
    main(sys.argv[1:])
