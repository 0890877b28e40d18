"""Story clustering: quality on the labelled set, and its cost against a refresh's other work.

    uv run python bench/stories.py                 # window of 3000 articles, 300 new ones
    uv run python bench/stories.py --quick         # 600 and 60
    uv run python bench/stories.py --model base    # translation baseline with the base-size
                                                   # model of bench/translate.py (built once)
    uv run python bench/stories.py --model none    # no translation baseline

Quality: pairwise precision and recall of tests/support/story_samples.py (events told by
several outlets, hard negatives on the same topics), stored one by one in publish order in a
real SQLite store, alone and then into a window already holding the background articles.

Cost: a window of generated Arabic articles (bench/corpus.py, 20 background feeds, spread
over the last 48 hours) is stored and clustered first. Its templates have a small vocabulary,
so each article also gets a few pseudo-names drawn Zipf-like from a large list, as real news
has. Then a refresh's worth of new articles arrive as RSS documents: parsing and storing them
is timed, then assigning their stories (one assigner, one call per feed, as a refresh does),
then translating their titles and texts with a synthetic model of tests/support/
synthetic_model.py: the test-size one (far faster than a real model, so that ratio is an
upper bound) or the base-size one (a real model's size; timed on the first 30 articles and
scaled). Ratios are printed, nothing is asserted. The generated articles are template
soups that share most of their phrases: how many of them join a story says nothing about
quality (the labelled set does).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent), str(HERE)]

import corpus  # noqa: E402
from support.arabic_samples import SampleArticle, rss_with_content_encoded  # noqa: E402
from support.story_samples import SAMPLES, cluster, pairwise_scores  # noqa: E402

from bot.config import FeedConfig  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.parse import parse_feed  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.stories import StoryAssigner, assign_stories  # noqa: E402

WINDOW = timedelta(hours=48)
NOW = datetime(2026, 9, 17, 0, 0, tzinfo=UTC)
FEEDS = 20
PER_SEED = 600            # bench/corpus.py runs out of distinct headlines past ~700


def generated(count: int, first_seed: int) -> list[tuple[str, list[str]]]:
    """``count`` generated articles as (title, paragraphs), with pseudo-names."""
    rng = random.Random(first_seed)
    names = pseudo_names(rng, 20_000)
    found: list[tuple[str, list[str]]] = []
    seed = first_seed
    while len(found) < count:
        for text in corpus.generated_articles(min(PER_SEED, count - len(found)), seed=seed):
            title, *paragraphs = text.split("\n\n")
            picks = [names[min(int(rng.paretovariate(0.7)) - 1, len(names) - 1)]
                     for _ in range(4)]
            paragraphs[0] = f"{picks[0]} {picks[1]} - {paragraphs[0]} {picks[2]}"
            found.append((f"{title} {picks[3]}", paragraphs))
        seed += 1
    return found


def pseudo_names(rng: random.Random, count: int) -> list[str]:
    """Name-like Arabic letter strings."""
    letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 8))))
    return sorted(names)


def background_feeds(store: Store) -> list[int]:
    configs = [FeedConfig(f"https://bg{i}.example/feed.xml", f"bg{i}") for i in range(FEEDS)]
    return [feed.id for feed in store.sync_feeds(configs, NOW - WINDOW)]


def fill_window(store: Store, count: int) -> float:
    """Store and cluster ``count`` background articles spread over the window; seconds spent
    clustering."""
    feeds = background_feeds(store)
    spent = 0.0
    for i, (title, paragraphs) in enumerate(generated(count, first_seed=100)):
        when = NOW - WINDOW + WINDOW * (i / count)
        url = f"https://bg.example/{i}"
        article = Article(feed_id=feeds[i % FEEDS], key=url, url=url, canonical_url=url,
                          published=when, fetched=when, language="ar", title_original=title,
                          text_original="\n\n".join(paragraphs))
        store.insert_articles([article])
        start = time.perf_counter()
        assign_stories(store, [article], window=WINDOW, now=when)
        spent += time.perf_counter() - start
    return spent


def feed_documents(count: int) -> list[bytes]:
    """New articles as one RSS document per background feed (full text in content:encoded)."""
    items: list[list[SampleArticle]] = [[] for _ in range(FEEDS)]
    for i, (title, paragraphs) in enumerate(generated(count, first_seed=500)):
        when = NOW - timedelta(minutes=count - i)
        items[i % FEEDS].append(SampleArticle(f"new-{i}", "", title, tuple(paragraphs), when))
    return [rss_with_content_encoded(chunk, f"https://new{n}.example") for n, chunk in
            enumerate(items) if chunk]


def parse_and_store(store: Store, documents: Sequence[bytes]) -> tuple[list[Article], float]:
    feeds = background_feeds(store)
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    start = time.perf_counter()
    stored: list[Article] = []
    for n, body in enumerate(documents):
        parsed = parse_feed(body, headers, f"https://new{n}.example/feed.xml", NOW)
        articles = [Article(feed_id=feeds[n], key=e.key, url=e.url,
                            canonical_url=e.canonical_url, published=e.published, fetched=NOW,
                            language="ar", title_original=e.title, text_original=e.text)
                    for e in parsed.entries]
        store.insert_articles(articles)
        stored.extend(articles)
    return stored, time.perf_counter() - start


def assign(store: Store, articles: Sequence[Article]) -> tuple[int, float]:
    """Stories as a refresh assigns them: one assigner, one call per feed."""
    start = time.perf_counter()
    assigner = StoryAssigner(store, window=WINDOW, now=NOW)
    joined = 0
    for feed_id in dict.fromkeys(a.feed_id for a in articles):
        joined += assigner.assign([a for a in articles if a.feed_id == feed_id])
    return joined, time.perf_counter() - start


def translate_seconds(articles: Sequence[Article], workdir: Path, size: str) -> float:
    """Seconds to translate the articles' titles and texts (scaled from the first 30 with the
    base-size model)."""
    from support.synthetic_model import build_package_dir

    from bot.modelstore import ModelStore
    from bot.translate import EngineSettings, Translator

    if size == "base":
        import translate  # bench/translate.py

        package = translate.ensure_model(HERE / ".cache")
        sample = list(articles[:30])
    else:
        package = build_package_dir(workdir / "package")
        sample = list(articles)
    model = ModelStore(workdir / "models").describe(package)
    with Store(workdir / "cache.db") as cache:
        translator = Translator(model, EngineSettings(), cache)
        translator.load()  # loading is not translating
        texts = [t for a in sample for t in (a.title_original, a.text_original)]
        start = time.perf_counter()
        asyncio.run(translator.translate(texts))
        seconds = time.perf_counter() - start
        translator.close()
    return seconds * len(articles) / len(sample)


def quality(workdir: Path, background: int) -> None:
    with Store(workdir / f"quality-{background}.db") as store:
        if background:
            fill_window(store, background)
        scores = pairwise_scores(SAMPLES, cluster(store, SAMPLES, window=WINDOW))
    where = f"in a window of {background} other articles" if background else "alone"
    print(f"labelled set {where}: precision {scores.precision:.3f}, "
          f"recall {scores.recall:.3f} ({len(SAMPLES)} articles)")
    for pair in scores.false_pairs:
        print(f"  false merge: {pair[0]} + {pair[1]}")
    for pair in scores.missed_pairs:
        print(f"  missed: {pair[0]} + {pair[1]}")


def cost(workdir: Path, background: int, new: int, model: str) -> None:
    with Store(workdir / "cost.db") as store:
        filled = fill_window(store, background)
        print(f"window: {background} articles, {store.count_story_terms()} index rows; "
              f"clustering them one by one took {filled:.2f}s "
              f"({1000 * filled / background:.2f} ms each)")
        articles, stored = parse_and_store(store, feed_documents(new))
        joined, clustered = assign(store, articles)
        start = time.perf_counter()
        pruned = store.prune_story_terms(NOW - WINDOW)
        pruning = time.perf_counter() - start
    print(f"refresh of {len(articles)} new articles: parse+store {stored:.3f}s, "
          f"stories {clustered:.3f}s ({joined} joined a story), prune {pruning:.3f}s "
          f"({pruned} rows)")
    print(f"  stories / (parse+store): {clustered / stored:.2f}")
    if model != "none":
        seconds = translate_seconds(articles, workdir, model)
        print(f"  translation with the synthetic {model}-size model: {seconds:.2f}s; "
              f"stories / translation: {clustered / seconds:.3f}")
        print(f"  stories / (parse+store+translation): "
              f"{clustered / (stored + seconds):.3f}"
              + (" (a real model is much slower than the test-size one: an upper bound)"
                 if model == "test" else ""))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=("test", "base", "none"), default="test",
                        help="synthetic model size for the translation baseline")
    args = parser.parse_args(argv)
    background, new = (600, 60) if args.quick else (3000, 300)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        quality(workdir, 0)
        quality(workdir, background)
        cost(workdir, background, new, args.model)


if __name__ == "__main__":
    main(sys.argv[1:])
