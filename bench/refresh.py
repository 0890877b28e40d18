"""Refresh memory and batching: peak RSS of a refresh of many new articles against one of few.

    uv run python bench/refresh.py                # 50 vs 5,000 new articles
    uv run python bench/refresh.py --quick        # 50 vs 500
    uv run python bench/refresh.py --throughput   # also: windows vs one translate call

This process serves generated Arabic news articles (bench/corpus.py's sentences: a headline
and two paragraphs, one sentence of each article its own) as loopback RSS feeds of 50 items
with full content, the way most publishers' feeds look. Each measured refresh runs in a
fresh process, so its peak RSS (VmHWM) is its own: a new database, the synthetic test model
of tests/support/synthetic_model.py (built once into bench/.cache/), and ``refresh()`` as
``nashra fetch`` calls it, model loaded first. The child also runs a watchdog coroutine and
reports the largest gap between its 10 ms ticks: how long the event loop was held at once
(after one warm-up request: httpx imports its network backend on the first one).

With ``--throughput``, the base-size model of bench/translate.py translates the same 50 full
articles through ``refresh()`` with the default windows and with one window holding
everything (the old single call), interleaved (one, windows, windows, one).

Final line: peak_small_mb=A peak_large_mb=B diff_mb=B-A ratio=B/A (target: diff ≤ 50) and,
with --throughput, windows_vs_one=X (target ≥ 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(HERE)]

import corpus  # noqa: E402
from support.arabic_samples import SampleArticle, rss_with_content_encoded  # noqa: E402
from support.feed_server import FeedServer  # noqa: E402
from support.synthetic_model import TEST_SHAPE, build_package_dir  # noqa: E402

PER_FEED = 50
CHILD = "--child"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=50, help="articles of the small refresh")
    parser.add_argument("--large", type=int, default=5000, help="articles of the large one")
    parser.add_argument("--quick", action="store_true", help="a large refresh of 500")
    parser.add_argument("--throughput", action="store_true",
                        help="also compare windows with one translate call (base-size model)")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    return parser.parse_args(argv)


def test_model(cache: Path) -> Path:
    package = cache / "refresh-test-model" / "translate-ar_en-1_0"
    if not (package / "model" / "model.bin").is_file():
        print(f"Building the synthetic test model in {package.parent} …", flush=True)
        build_package_dir(package.parent, shape=TEST_SHAPE)
    return package


def articles(count: int, *, short: bool = True, seed: int = 5) -> list[SampleArticle]:
    """``count`` new articles. ``short``: a headline and two paragraphs of sentences drawn
    from a pool of generated ones, plus a sentence of the article's own (the pool's repeats
    come from the cache, as a wire story's do); else whole generated articles."""
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    pool = corpus.generated_articles(100 if short else count, seed=seed)
    sentences = [s for text in pool for p in text.split("\n\n")[1:] for s in p.split(". ")]
    made = []
    for n in range(count):
        headline, *paragraphs = pool[n % len(pool)].split("\n\n")
        if short:
            own = f"وقال مراسلنا في تقريره رقم {n} إن الوضع ما زال يتطور."
            paragraphs = [". ".join(rng.sample(sentences, 3)) + ".",
                          ". ".join(rng.sample(sentences, 3)) + ". " + own]
        made.append(SampleArticle(f"a{seed}-{n}", "أخبار", f"{headline} ({n})",
                                  tuple(paragraphs),
                                  now - timedelta(seconds=30 * n)))  # in the stories window
    return made


def serve(server: FeedServer, items: list[SampleArticle], prefix: str) -> list[str]:
    return [server.add(f"/{prefix}/{start}.xml", rss_with_content_encoded(
        items[start:start + PER_FEED], server.base_url),
        headers={"Content-Type": "application/rss+xml; charset=utf-8"})
        for start in range(0, len(items), PER_FEED)]


def measure(package: Path, feeds: list[str], work: Path, *, window: int | None = None,
            threads: int = 0) -> dict[str, Any]:
    """One refresh of ``feeds`` in a fresh process with a fresh database."""
    work.mkdir(parents=True)
    lines = ["[storage]", f'path = "{work / "nashra.db"}"',
             "[translation]", f'model = "{package}"', f"threads = {threads}",
             "[fetch]", "timeout_seconds = 120", f"max_entries = {PER_FEED}"]
    for n, url in enumerate(feeds):
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "feed {n}"']
    config = work / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = [sys.executable, __file__, CHILD, str(config), json.dumps(window)]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"refresh failed:\n{result.stderr}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def child(config: str, window: int | None) -> None:
    """The measured side: one refresh, then its figures as one JSON line."""
    from variants import peak_rss_mb

    from bot import refresh_windows
    from bot.cli import ensure_model
    from bot.config import load_settings
    from bot.fetch import Fetcher, FetchSettings
    from bot.pipeline import refresh
    from bot.store import Store
    from bot.translate import EngineSettings, Translator

    if window is not None:
        refresh_windows.WINDOW_CHARS = window
    settings = load_settings(config)
    model = ensure_model(settings)
    with Store(settings.database_path) as store:
        translator = Translator(model, EngineSettings(threads=settings.translation.threads),
                                store)
        translator.load()

        async def run() -> dict[str, Any]:
            gaps = [0.0]
            async with Fetcher(FetchSettings(timeout_seconds=120)) as fetcher:
                # httpx imports its network backend on the first request: once a process.
                await fetcher.fetch(settings.feeds[0].url)
                watchdog = asyncio.create_task(_watch(gaps))
                start = time.perf_counter()
                report = await refresh(settings, store, fetcher, translator)
                seconds = time.perf_counter() - start
                watchdog.cancel()
            return {"seconds": seconds, "new": report.new_articles,
                    "failed": report.failed_feeds, "sentences": report.sentences_translated,
                    "max_gap_ms": max(gaps) * 1000}

        figures = asyncio.run(run())
        translator.close()
    figures["peak_mb"] = peak_rss_mb()
    print(json.dumps(figures))


async def _watch(gaps: list[float]) -> None:
    """The largest time between 10 ms ticks, less the 10 ms asked for."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(0.01)
        now = loop.time()
        gaps[0] = max(gaps[0], now - last - 0.01)
        last = now


def memory(args: argparse.Namespace, server: FeedServer, work: Path) -> tuple[float, float]:
    package = test_model(args.cache_dir)
    sizes = [("small", args.small), ("large", 500 if args.quick else args.large)]
    results = {}
    print("Refreshes (each in its own process, synthetic test model):", flush=True)
    for name, size in sizes:
        feeds = serve(server, articles(size, seed=len(name)), name)
        result = measure(package, feeds, work / name)
        assert result["new"] == size and result["failed"] == 0, result
        results[name] = result
        print(f"  {size:>6} new articles in {len(feeds):>3} feeds: {result['seconds']:7.1f} s, "
              f"{result['sentences']} sentences, peak {result['peak_mb']:.0f} MB, "
              f"largest loop gap {result['max_gap_ms']:.0f} ms", flush=True)
    return results["small"]["peak_mb"], results["large"]["peak_mb"]


def throughput(args: argparse.Namespace, server: FeedServer, work: Path) -> float:
    from translate import ensure_model as base_model

    package = base_model(args.cache_dir)
    items = articles(50, short=False, seed=7)
    feeds = serve(server, items, "full")
    seconds = {"one": 0.0, "windows": 0.0}
    print("Windows against one translate call (base-size model, 50 full articles):",
          flush=True)
    for n, kind in enumerate(["one", "windows", "windows", "one"]):
        window = 10**9 if kind == "one" else None
        result = measure(package, feeds, work / f"full-{n}", window=window)
        assert result["new"] == len(items), result
        seconds[kind] += result["seconds"]
        print(f"  {kind:<8} {result['seconds']:7.1f} s ({result['sentences']} sentences, "
              f"largest loop gap {result['max_gap_ms']:.0f} ms)", flush=True)
    return seconds["one"] / seconds["windows"]


def main(argv: list[str]) -> None:
    if argv[:1] == [CHILD]:
        child(argv[1], json.loads(argv[2]))
        return
    args = parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    with FeedServer() as server, tempfile.TemporaryDirectory(prefix="nashra-bench-") as tmp:
        small, large = memory(args, server, Path(tmp))
        ratio = throughput(args, server, Path(tmp)) if args.throughput else None
    line = (f"peak_small_mb={small:.0f} peak_large_mb={large:.0f} diff_mb={large - small:.0f} "
            f"ratio={large / small:.2f}")
    if ratio is not None:
        line += f" windows_vs_one={ratio:.2f}"
    print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
