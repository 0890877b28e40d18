"""Scale: 10,000 feeds, a long first refresh, 10,000 chats' digests, and the digest fan-out.

    uv run --locked python bench/scale.py                 # every section at full size
    uv run --locked python bench/scale.py --quick         # small smoke sizes
    uv run --locked python bench/scale.py --sections 1,3  # some sections only
    uv run --locked python bench/scale.py --sections 4 --chats 300
    uv run --locked python bench/scale.py --postgres      # the PostgreSQL column (scale_pg.py)

1. 304 refresh: N loopback feeds (default 10,000, and 1,000 for the curve) of one short
   item each (--items) on a lean asyncio server (bench/scale_support.py) spread over 100
   loopback addresses. A first refresh stores them; the measured second one gets 304 for
   every feed (ETag/Last-Modified). Targets at 10,000 feeds: wall < 30 s, peak RSS < 250 MB.
   --stub-sniffio measures the what-if of the missing sniffio module (see its help).
2. First refresh of 1,000 feeds × 20 long distinct articles (bench/corpus.py's generator, no
   sentence twice, so every sentence is translated by the tiny synthetic model of
   tests/support/synthetic_model.py): wall time, when the first article was in the database
   (polled from another connection), target first < 25 % of wall; peak RSS.
3. Digest selection: an archive of 100,000 articles stored through Store.insert_articles
   (bench/search.py's generator, fetched times in id order as a running bot stores them;
   built once into bench/.cache/) and 10,000 chats subscribed to the same time; the digest
   tick's serve_batches() for all of them (target < 60 s); database size. It stops after
   --digest-budget seconds (default 300; 0: no limit) and extrapolates from the chats
   served (ids rise with the kinds of chats mixed, so the served ones are a fair sample).
   --what-if patches in two suggested one-line fixes to show their effect.
4. Fan-out: the real bot (`python -m bot run`) against the fake Bot API with Telegram's
   limits enforced (FakeTelegram.enforce_limits), 10,000 chats due at the same second:
   every digest message delivered exactly once (fake vs outbox), fan-out time against
   messages / 30 s (target ≤ 1.1×), and /search pushed every 0.5 s meanwhile: reply
   latency p95 < 300 ms.

Every measured part runs in a child process of its own: peak RSS (VmHWM) is the child's.
The machine may be shared: wall times are what this run saw, printed with the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent), str(HERE)]

import scale_support as sup  # noqa: E402

CHILD = "--child"
RESULTS: list[tuple[str, bool | None, str]] = []


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke sizes")
    parser.add_argument("--sections", default="1,2,3,4", help="e.g. 1,3 (default: all)")
    parser.add_argument("--feeds", type=int, help="section 1 feeds (10,000; quick 1,000)")
    parser.add_argument("--curve-feeds", type=int, help="section 1 smaller size (1,000; 100)")
    parser.add_argument("--items", type=int, default=1, help="section 1 items per feed")
    parser.add_argument("--stub-sniffio", action="store_true",
                        help="what-if: give httpcore a sniffio module (it is not installed, "
                             "and httpcore tries to import it on every lock it sets up)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="fetch.concurrency (default: the config default)")
    parser.add_argument("--long-feeds", type=int, help="section 2 feeds (1,000; quick 20)")
    parser.add_argument("--long-items", type=int, default=20, help="section 2 items per feed")
    parser.add_argument("--threads", type=int, default=0, help="translation.threads")
    parser.add_argument("--beam", type=int, default=1,
                        help="section 2 translation.beam_size (1: twice as fast as the "
                             "default 4, so 400,000 sentences take minutes)")
    parser.add_argument("--articles", type=int, help="section 3 archive (100,000; 10,000)")
    parser.add_argument("--digest-chats", type=int, help="section 3 chats (10,000; 1,000)")
    parser.add_argument("--digest-budget", type=float, default=300,
                        help="section 3: stop serving after this many seconds and "
                             "extrapolate (0: serve every chat)")
    parser.add_argument("--chats", type=int, help="section 4 chats (10,000; 300)")
    parser.add_argument("--what-if", action="store_true",
                        help="section 3 with two suggested one-line fixes patched in "
                             "(see scale_support.what_if_digest)")
    parser.add_argument("--profile", nargs="?", const="measured", choices=["measured", "all"],
                        help="cProfile each measured child (all: section 1's storing refresh "
                             "too); top functions on stderr")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    args = parser.parse_args(argv)
    quick = args.quick
    args.feeds = args.feeds or (1000 if quick else 10_000)
    args.curve_feeds = args.curve_feeds or (100 if quick else 1000)
    args.long_feeds = args.long_feeds or (20 if quick else 1000)
    args.articles = args.articles or (10_000 if quick else 100_000)
    args.digest_chats = args.digest_chats or (1000 if quick else 10_000)
    args.chats = args.chats or (300 if quick else 10_000)
    args.sections = {int(s) for s in args.sections.split(",") if s.strip()}
    return args


def verdict(name: str, ok: bool | None, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    mark = {True: "PASS", False: "FAIL", None: "----"}[ok]
    print(f"  [{mark}] {name}: {detail}", flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- section 1: a refresh of many feeds that all answer 304 -----------------------------------


def section_304(args: argparse.Namespace, server: sup.LoopbackServer, work: Path) -> None:
    import refresh as refresh_bench

    model = refresh_bench.test_model(args.cache_dir)
    pool = sup.sentence_pool()
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"1. Refresh of feeds that all answer 304 ({args.items} short items a feed, "
          f"{len(server.addresses)} loopback hosts, load {load()})", flush=True)
    figures = {}
    for size in sorted({args.curve_feeds, args.feeds}):
        folder = work / f"s304-{size}"
        folder.mkdir()
        urls = [server.add(i, f"/s{size}/{i}.xml", sup.feed_body(
            sup.short_items(i, args.items, now, pool), f"https://news{i % 50}.example"),
            stamp=i) for i in range(size)]
        config = sup.write_config(folder / "config.toml", folder / "nashra.db", model, urls,
                                  per_feed=args.items, threads=args.threads,
                                  concurrency=args.concurrency)
        first = sup.run_child(Path(__file__), "refresh",
                              {"config": str(config), "profile": args.profile == "all"})
        assert first["failed"] == 0 and first["new"] == size * args.items, first
        server.reset_counts()
        second = sup.run_child(Path(__file__), "refresh",
                               {"config": str(config), "profile": bool(args.profile),
                                "stub_sniffio": args.stub_sniffio})
        counts = server.snapshot()
        assert second["failed"] == 0 and second["new"] == 0, second
        assert second["not_modified"] == size and counts.get(304) == size, (second, counts)
        figures[size] = second
        print(f"  {size:>6} feeds: first refresh {first['seconds']:.1f} s "
              f"({first['new']} articles, peak {first['peak_mb']:.0f} MB); "
              f"all-304 refresh {second['seconds']:.2f} s "
              f"({1000 * second['seconds'] / size:.2f} ms a feed, CPU {second['cpu_s']:.2f} s), "
              f"peak RSS {second['peak_mb']:.0f} MB, concurrency {second['concurrency']}"
              + (" (sniffio stubbed)" if args.stub_sniffio else ""),
              flush=True)
    small, large = figures[min(figures)], figures[max(figures)]
    if len(figures) > 1:
        per_small = small["seconds"] / min(figures)
        per_large = large["seconds"] / max(figures)
        cpu_ratio = (large["cpu_s"] / max(figures)) / (small["cpu_s"] / min(figures))
        print(f"  curve: at {max(figures) // min(figures)}× the feeds, "
              f"{per_large / per_small:.2f}× the wall time a feed and {cpu_ratio:.2f}× the "
              f"CPU time a feed (1.0 = linear)")
    size = max(figures)
    verdict(f"304 refresh of {size} feeds < 30 s", large["seconds"] < 30,
            f"{large['seconds']:.2f} s")
    verdict(f"304 refresh of {size} feeds peak RSS < 250 MB", large["peak_mb"] < 250,
            f"{large['peak_mb']:.0f} MB")


# -- section 2: a long first refresh -----------------------------------------------------------


def section_first(args: argparse.Namespace, server: sup.LoopbackServer, work: Path) -> None:
    import refresh as refresh_bench

    model = refresh_bench.test_model(args.cache_dir)
    size = model.joinpath("model", "model.bin").stat().st_size / 1e6
    feeds, per = args.long_feeds, args.long_items
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"2. First refresh of {feeds} feeds × {per} long distinct articles (load {load()})",
          flush=True)
    start = time.perf_counter()
    articles = sup.long_articles(feeds * per)
    chars = sum(len(t) + sum(map(len, p)) for t, p in articles)
    urls = [server.add(i, f"/long/{i}.xml", sup.feed_body(
        sup.long_items(i, articles[i * per:(i + 1) * per], now), f"https://long{i % 50}.example"),
        stamp=i) for i in range(feeds)]
    del articles
    print(f"  generated {feeds * per} articles, {chars / 1e6:.1f} M characters, in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    folder = work / "first"
    folder.mkdir()
    config = sup.write_config(folder / "config.toml", folder / "nashra.db", model, urls,
                              per_feed=per, threads=args.threads, concurrency=args.concurrency,
                              beam_size=args.beam)
    result = sup.run_child(Path(__file__), "refresh",
                           {"config": str(config), "watch": True,
                            "profile": bool(args.profile)})
    assert result["failed"] == 0 and result["new"] == feeds * per, result
    first = result["first_s"]
    print(f"  model: tiny synthetic Transformer (tests/support TEST_SHAPE: d_model 64, 2+2 "
          f"layers, 900-piece vocabulary), model.bin {size:.1f} MB, int8, beam {args.beam}")
    print(f"  wall {result['seconds']:.1f} s, {result['new']} articles, "
          f"{result['sentences']} sentences translated ({result['cache_hits']} from cache), "
          f"first article stored after {first:.2f} s, peak RSS {result['peak_mb']:.0f} MB",
          flush=True)
    share = first / result["seconds"]
    verdict("first article < 25 % of the refresh's wall time", share < 0.25,
            f"{first:.2f} s of {result['seconds']:.1f} s = {100 * share:.1f} %")
    verdict("first refresh peak RSS (reported)", None, f"{result['peak_mb']:.0f} MB")


# -- section 3: digest selection for many chats ------------------------------------------------


def section_digest(args: argparse.Namespace, work: Path) -> None:
    print(f"3. Digest selection: {args.articles} articles, {args.digest_chats} chats "
          f"(load {load()})", flush=True)
    archive = args.cache_dir / f"scale-archive-{args.articles}.db"
    if not archive.exists():
        built = sup.run_child(Path(__file__), "archive",
                              {"path": str(archive), "count": args.articles})
        print(f"  archive built: {built['count']} articles in {built['seconds']:.0f} s "
              f"({built['ms_each']:.2f} ms each), kept in {archive}", flush=True)
    else:
        print(f"  archive reused: {archive}")
    database = work / "digest.db"
    shutil.copyfile(archive, database)
    result = sup.run_child(Path(__file__), "digest",
                           {"path": str(database), "chats": args.digest_chats,
                            "budget": args.digest_budget,
                            "profile": bool(args.profile), "what_if": args.what_if})
    if result.get("patched"):
        print(f"  WHAT-IF, patched in: {', '.join(result['patched'])}")
    done, chats = result["done"], result["chats"]
    print(f"  {chats} chats set up in {result['setup_s']:.0f} s; the tick served "
          f"{result['served']} digests ({result['messages']} messages, "
          f"{result['stories']} stories, {result['empty']} chats with nothing new) "
          f"in {result['seconds']:.1f} s = {1000 * result['seconds'] / max(done, 1):.2f} "
          f"ms a chat; peak RSS {result['peak_mb']:.0f} MB", flush=True)
    seconds, note = result["seconds"], ""
    if done < chats:
        seconds = result["seconds"] * chats / max(done, 1)
        note = f" (extrapolated: stopped after {done} chats, the --digest-budget)"
        print(f"  stopped at the time budget after {done} of {chats} chats; at this rate all "
              f"{chats} take {seconds:.0f} s")
    print(f"  database: {result['db_before_mb']:.0f} MB with the archive, "
          f"{result['db_after_mb']:.0f} MB after the digests "
          f"({result['candidates']} candidate articles in the 48 h window)")
    verdict(f"digest selection for {chats} chats < 60 s", seconds < 60,
            f"{seconds:.1f} s{note}")
    verdict("database size (reported)", None, f"{result['db_after_mb']:.0f} MB")


# -- section 4: the digest fan-out -------------------------------------------------------------


def section_fanout(args: argparse.Namespace, work: Path) -> None:
    """The real bot as a process (``python -m bot run``, as deployed) against the fake Bot
    API in this process: this process's threads do not take the bot's GIL."""
    import refresh as refresh_bench
    from support.arabic_samples import ARTICLES
    from support.bot_harness import article_variants, bot_process, make_bot_site
    from support.feed_server import FeedServer

    from bot.store.base import to_db_time

    tick_env = sup.first_attr("TICK_ENV", ["bot.telegram.schedule"])
    reschedule = sup.first_attr("reschedule", ["bot.due", "bot.telegram.schedule"])
    package = refresh_bench.test_model(args.cache_dir)
    print(f"4. Fan-out: {args.chats} chats due at the same second, Telegram's limits "
          f"enforced by the fake (load {load()})", flush=True)
    os.environ[tick_env] = "1"
    folder = work / "fanout"
    folder.mkdir()
    with sup.stamped_telegram() as tg, FeedServer() as feeds:
        limited = hasattr(tg, "enforce_limits")
        if limited:
            tg.enforce_limits(overall_per_second=30, private_per_second=1, group_per_minute=20)
        else:
            print("  FakeTelegram.enforce_limits is missing: running WITHOUT limits")
        site = make_bot_site(folder, tg, feeds, package, articles=article_variants(2))
        start = time.perf_counter()
        with site.store() as store:
            chats = sup.subscribe_chats(store, args.chats, datetime.now(UTC))
        print(f"  {len(chats)} chats subscribed in {time.perf_counter() - start:.0f} s",
              flush=True)
        database = site.settings.database_path
        with bot_process(site, output=folder / "bot.log") as process:
            tg.wait_for(lambda: tg.calls("getUpdates"), timeout=120, message="the bot polling")
            word = ARTICLES[0].title.split()[0]
            idle = sup.SearchPusher(tg, word)  # the same searches with nothing else going on
            idle.start()
            time.sleep(5)
            idle.stop()
            with contextlib.suppress(AssertionError):
                tg.wait_for(lambda: idle.latencies(list(tg.stamps))[1] == 0, timeout=10)
            idle_latencies, _ = idle.latencies(list(tg.stamps))
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            sup.set_due(database, due, reschedule)
            wait = due.timestamp() - time.time()
            due_mono = time.monotonic() + wait
            pusher = sup.SearchPusher(tg, word)
            pusher.start()
            allowed_s = 3 * args.chats / 30 + 120
            done_at = None
            while time.monotonic() < due_mono + allowed_s:
                time.sleep(0.5)
                if process.poll() is not None:
                    sys.exit(f"the bot stopped (exit {process.returncode}); see its log")
                left, waiting, digests = sup.outbox_state(database, to_db_time(due))
                if time.monotonic() > due_mono and not left and not waiting and digests:
                    done_at = time.monotonic()
                    break
            pusher.stop()
            with contextlib.suppress(AssertionError):  # the last searches' replies
                tg.wait_for(lambda: pusher.latencies(list(tg.stamps))[1] == 0, timeout=10)
            bot_peak = sup.vm_hwm_mb(process.pid)
        with tg._cond:
            stamps = list(tg.stamps)
        limited_calls = [c for c in tg.calls("sendMessage") if c["status"] == 429]
    if done_at is None:
        sys.exit(f"the fan-out did not finish within {allowed_s:.0f} s of its due time")
    check = sup.delivered_once(database, chats, stamps)
    wanted = set(chats)
    digest_times = [t for chat, _m, t in stamps if chat in wanted]
    during = [t for _c, _m, t in stamps if due_mono <= t <= max(digest_times)]
    fanout = max(digest_times) - due_mono
    ideal = len(during) / 30
    latencies, missing = pusher.latencies(stamps)
    p50, p95 = sup.percentile(latencies, 0.5), sup.percentile(latencies, 0.95)
    print(f"  {check['fake_messages']} digest messages to {len(chats)} chats "
          f"({len(during)} messages in all while they went out, searches included); "
          f"{len(limited_calls)} answers 429 "
          f"({sum(c.get('limit') == 'overall' for c in limited_calls)} overall, "
          f"{sum(c.get('limit') == 'chat' for c in limited_calls)} per chat)")
    print(f"  fan-out: due time to last digest {fanout:.1f} s, first to last "
          f"{max(digest_times) - min(digest_times):.1f} s; 30 messages/s allows {ideal:.1f} s; "
          f"bot peak RSS {bot_peak or 0:.0f} MB")
    print(f"  exactly once: {check}")
    print(f"  /search every {sup.SEARCH_EVERY} s during the fan-out: {len(latencies)} replies, "
          f"{missing} unanswered; p50 {1000 * p50:.0f} ms, p95 {1000 * p95:.0f} ms, max "
          f"{1000 * max(latencies, default=0):.0f} ms (idle bot, before: p50 "
          f"{1000 * sup.percentile(idle_latencies, 0.5):.0f} ms, p95 "
          f"{1000 * sup.percentile(idle_latencies, 0.95):.0f} ms)", flush=True)
    once = (check["chats_without_digest"] == 0 and check["chats_mismatched"] == 0
            and check["not_sent"] == 0 and check["duplicates"] == 0
            and check["outbox_rows"] == check["fake_messages"])
    verdict("every digest delivered exactly once, none skipped", once,
            f"{check['fake_messages']} messages at the fake, {check['outbox_rows']} in the "
            f"outbox, {check['chats_without_digest']} chats without a digest")
    ratio = fanout / ideal
    verdict("fan-out time ≤ 1.1× messages/30", ratio <= 1.1 if limited else None,
            f"{fanout:.1f} s / {ideal:.1f} s = {ratio:.2f}×"
            + ("" if limited else " (limits NOT enforced)"))
    problems = [line for line in (folder / "bot.log").read_text("utf-8").splitlines()
                if " WARNING " in line or " ERROR " in line]
    print(f"  the bot logged {len(problems)} warnings/errors"
          + "".join(f"\n    {line[:300]}" for line in problems[:8]), flush=True)
    verdict("/search reply p95 < 300 ms during the fan-out", p95 < 0.3 and not missing,
            f"p95 {1000 * p95:.0f} ms over {len(latencies)} searches, {missing} unanswered")


# -- children ----------------------------------------------------------------------------------


def child_refresh(params: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import resource

    from bot.cli import ensure_model
    from bot.config import load_settings
    from bot.fetch import Fetcher
    from bot.pipeline import refresh
    from bot.store import Store
    from bot.translate import Translator

    if params.get("stub_sniffio"):
        sup.stub_sniffio()
    settings = load_settings(params["config"])
    model = ensure_model(settings)
    fetch = sup.fetch_settings(settings)
    watch = sup.FirstArticleWatch(settings.database_path) if params.get("watch") else None
    with Store(settings.database_path) as store:
        translator = Translator(model, sup.engine_settings(settings), store)
        translator.load()

        async def run() -> dict[str, Any]:
            async with Fetcher(fetch) as fetcher:
                # httpx imports its network backend on the first request: once a process.
                await fetcher.fetch(settings.feeds[0].url)
                if watch:
                    watch.start()
                start, cpu = time.perf_counter(), _cpu(resource)
                report = await refresh(settings, store, fetcher, translator)
                seconds, cpu = time.perf_counter() - start, _cpu(resource) - cpu
            return {"seconds": seconds, "cpu_s": cpu, "new": report.new_articles,
                    "failed": report.failed_feeds, "sentences": report.sentences_translated,
                    "cache_hits": report.cache_hits,
                    "not_modified": sum(f.not_modified for f in report.feeds),
                    "errors": sorted({f.error for f in report.feeds if f.error})[:3]}

        figures = profiled(params, lambda: asyncio.run(run()))
        translator.close()
    if watch:
        watch.stop()
        figures["first_s"] = watch.first
    figures["concurrency"] = fetch.concurrency
    figures["peak_mb"] = sup.peak_rss_mb()
    return figures


def _cpu(resource: Any) -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


def child_archive(params: dict[str, Any]) -> dict[str, Any]:
    """bench/search.py's generated archive, stored in fetch order (ids rise with time)."""
    import dataclasses

    import search

    from bot.config import FeedConfig
    from bot.store import Store

    path, count = Path(params["path"]), params["count"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    start = time.perf_counter()
    with Store(partial) as store:
        configs = [FeedConfig(f"https://feed{i}.example/rss", f"feed {i}")
                   for i in range(search.FEEDS)]
        feeds = [feed.id for feed in store.sync_feeds(configs, search.NOW - search.SPREAD)]
        step = search.SPREAD / count
        batch = []
        for n, article in enumerate(search.Generator().articles(count, feeds)):
            when = search.NOW - search.SPREAD + step * (n + 1)
            batch.append(dataclasses.replace(article, fetched=when,
                                             published=when - timedelta(minutes=n % 90)))
            if len(batch) == search.BATCH:
                store.insert_articles(batch)
                batch = []
                if n % 10_000 == 9_999:
                    sup.progress(f"{n + 1} articles stored")
        store.insert_articles(batch)
        stored = store.count_articles()
    partial.replace(path)
    seconds = time.perf_counter() - start
    return {"count": stored, "seconds": seconds, "ms_each": 1000 * seconds / stored}


class _Outbox:
    def notify(self) -> None:
        pass


class _Services:
    """What digest queueing needs (the DigestServices protocol; the bot's Services has it)."""

    def __init__(self, settings: Any, store: Any) -> None:
        self.settings, self.store, self.outbox = settings, store, _Outbox()


def child_digest(params: dict[str, Any]) -> dict[str, Any]:
    import search

    from bot.config import Settings
    from bot.store import Store
    from bot.store.base import to_db_time

    serve_batches = sup.first_attr("serve_batches", ["bot.digests", "bot.telegram.schedule"])
    reschedule = sup.first_attr("reschedule", ["bot.due", "bot.telegram.schedule"])
    patched = sup.what_if_digest() if params.get("what_if") else []
    path, count = Path(params["path"]), params["chats"]
    now = search.NOW
    settings = Settings()
    with Store(path) as store:
        before = _db_mb(store, path)
        start = time.perf_counter()
        add_chats(store, count, now - timedelta(hours=23), reschedule)
        setup = time.perf_counter() - start
        expiry = now - timedelta(hours=settings.digest.max_age_hours)
        candidates = store._db.execute("SELECT COUNT(*) FROM articles WHERE fetched >= ?",
                                       (to_db_time(expiry),)).fetchone()[0]
        svc = _Services(settings, store)
        budget = params.get("budget") or float("inf")

        def tick() -> int:
            """The tick's serve_due(), batch by batch (100 chats), until the time budget."""
            served = 0
            for batch in serve_batches(svc, now, 100):
                served += batch
                if time.perf_counter() - start > budget:
                    break
            return served

        start = time.perf_counter()
        served = profiled(params, tick)
        seconds = time.perf_counter() - start
        messages, chats, stories = store._db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT chat_id), "
            "(SELECT COUNT(*) FROM chat_stories) FROM outbox").fetchone()
        due_left = len(store.due_chats(now, limit=count))
        after = _db_mb(store, path)
    return {"chats": count, "served": served, "messages": messages, "stories": stories,
            "done": count - due_left, "empty": count - due_left - chats,
            "seconds": seconds, "setup_s": setup,
            "candidates": candidates, "db_before_mb": before, "db_after_mb": after,
            "peak_mb": sup.peak_rss_mb(), "patched": patched}


WORDS = {"include": ["Cairo", "wheat", "prices", "القاهرة", "Beirut", "rain"],
         "exclude": ["strike", "football", "الجيش", "Gaza"]}


def add_chats(store: Any, count: int, since: datetime,
              reschedule: Callable[..., Any]) -> None:
    """``count`` chats subscribed to a digest at 00:00 UTC: a fifth of them groups, a tenth
    with include words, a tenth with exclude words, a twentieth without one source. Ids rise
    with ``n`` (the tick serves them in id order), so any prefix is a fair sample."""
    rng = random.Random(17)
    feeds = [feed.id for feed in store.feeds()]
    for n in range(count):
        group = n < count // 5
        chat_id = -100_000_000_000 - count + n if group else 10_000 + n
        store.ensure_chat(chat_id, "supergroup" if group else "private", f"chat {n}",
                          times=("00:00",), timezone="UTC", max_items=10, now=since)
        store.set_subscribed(chat_id, True, since)
        if n % 10 == 3:
            store.add_chat_word(chat_id, "include", rng.choice(WORDS["include"]), since)
        if n % 10 == 7:
            store.add_chat_word(chat_id, "exclude", rng.choice(WORDS["exclude"]), since)
        if n % 20 == 9:
            store.set_feed_excluded(chat_id, rng.choice(feeds), True)
        chat = store.get_chat(chat_id)
        reschedule(store, chat, since)
        if n % 2000 == 1999:
            sup.progress(f"{n + 1} chats subscribed")


def _db_mb(store: Any, path: Path) -> float:
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def profiled(params: dict[str, Any], call: Callable[[], Any]) -> Any:
    """``call()``, under cProfile when asked (the top of it on stderr)."""
    if not params.get("profile"):
        return call()
    import cProfile
    import pstats

    profile = cProfile.Profile()
    result = profile.runcall(call)
    stats = pstats.Stats(profile, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return result


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "refresh": child_refresh, "archive": child_archive, "digest": child_digest,
}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--postgres"]:   # the PostgreSQL column: bench/scale_pg.py
        import scale_pg

        scale_pg.main(argv[1:])
        return
    if argv[:1] == [CHILD]:
        import json

        figures = CHILDREN[argv[1]](json.loads(argv[2]))
        print(json.dumps(figures))
        return
    args = parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"Nashra scale bench ({'quick' if args.quick else 'full size'}), "
          f"{os.cpu_count()} CPUs, load average {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="nashra-scale-") as tmp:
        work = Path(tmp)
        if args.sections & {1, 2}:
            with sup.LoopbackServer() as server:
                if 1 in args.sections:
                    section_304(args, server, work)
                if 2 in args.sections:
                    section_first(args, server, work)
        if 3 in args.sections:
            section_digest(args, work)
        if 4 in args.sections:
            section_fanout(args, work)
    print("Summary:")
    for name, ok, detail in RESULTS:
        print(f"  {({True: 'PASS', False: 'FAIL', None: 'info'})[ok]:4}  {name}: {detail}")


if __name__ == "__main__":
    main(sys.argv[1:])
