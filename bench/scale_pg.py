"""Scale on PostgreSQL: a long refresh by one and by two `nashra worker` processes against the
all-in-one SQLite refresh, and the 10,000-chat digest fan-out through two `nashra bot`
processes.

    uv run --locked python bench/scale_pg.py                  # both sections, full size
    uv run --locked python bench/scale_pg.py --quick          # 100 feeds × 2, 300 chats
    uv run --locked python bench/scale_pg.py --sections 2 --chats 1000

1. Refresh of N feeds (default 1,000; quick 100) × --long-items long distinct articles
   (default 3; quick 2) served by bench/scale_support.py's loopback server; no sentence
   twice anywhere (bench/corpus.py's generator), so translation by the tiny synthetic model
   of tests/support/synthetic_model.py (beam 1) is the cost. Three runs on fresh databases,
   each on the same feeds:
     a. the baseline: SQLite, one `python -m bot --config C fetch`, translation.threads 2;
     b. PostgreSQL, one `python -m bot --config C worker`, translation.threads 2;
     c. PostgreSQL, two workers, translation.threads 1 each (the same 2 cores in all).
   Measured: wall time from starting the process(es) until every article is in the database
   (counted from this process every 0.5 s), printed as ratios b/a, c/a and c/b. Workers run
   with fetch.interval_minutes 60 (nothing comes due again) and lease_seconds 60; once
   everything is stored and no lease is held they get SIGTERM and their stop summaries are
   read. Checks: every article stored once (rows = distinct canonical URLs = expected, and
   the workers' "articles stored" add up to it), every sentence translated once (the
   sentences the processes translated = rows of the translation cache = the baseline's),
   and in (c) both workers did part of the work. Peak RSS (VmHWM) and CPU time of each
   process are read from /proc just before it stops.
2. Fan-out: --chats chats (default 10,000; quick 300) with a digest due at the same second,
   the fake Bot API (tests/support/fake_telegram.py) enforcing Telegram's limits, delivered
   by two `python -m bot --config C bot` processes on one PostgreSQL database (one leads and
   schedules, both deliver). Measured: due time to the last digest message against
   messages / 30 s, Telegram's minimum (target ≤ 1.1×, as bench/scale.py section 4); every
   digest delivered exactly once (the fake's messages per chat against the outbox rows);
   each process's share (its "outbox stopped: N messages sent since start" at SIGTERM) and
   peak RSS; 429 answers.

The PostgreSQL server is $NASHRA_TEST_POSTGRES_URL if set, else a throwaway cluster started
by tests/support/postgres.py (as root it runs as the `postgres` user; durability off, as for
the tests) and removed at the end. Each run gets a database of its own, dropped after it.
The machine may be shared: wall times are what this run saw; compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent), str(HERE)]

import scale_support as sup  # noqa: E402

RESULTS: list[tuple[str, bool | None, str]] = []
POLL = 0.5   # seconds between two looks at the database
SUMMARY = re.compile(
    r"worker (?P<name>\S+) stopped: (?P<feeds>\d+) feeds refreshed in (?P<turns>\d+) turns, "
    r"(?P<articles>\d+) articles stored, (?P<failures>\d+) feed failures, "
    r"(?P<translated>\d+) sentences translated, (?P<cached>\d+) from cache")
FETCH_SUMMARY = re.compile(r"sentences translated: (\d+), from cache: (\d+)")
OUTBOX_STOPPED = re.compile(r"outbox stopped: (\d+) messages? sent since start")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke sizes")
    parser.add_argument("--sections", default="1,2", help="e.g. 2 (default: 1,2)")
    parser.add_argument("--long-feeds", type=int,
                        help="section 1 feeds (1,000; quick 100; more than 32, a worker's "
                             "turn, or one worker takes them all)")
    parser.add_argument("--long-items", type=int, help="section 1 items a feed (3; quick 2)")
    parser.add_argument("--beam", type=int, default=1, help="section 1 translation.beam_size")
    parser.add_argument("--chats", type=int, help="section 2 chats (10,000; quick 300)")
    parser.add_argument("--bots", type=int, default=2,
                        help="section 2 `nashra bot` processes (2; 1 for comparison)")
    parser.add_argument("--run-timeout", type=float, default=3600,
                        help="seconds before a run that has not finished counts as hung")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    args = parser.parse_args(argv)
    quick = args.quick
    args.long_feeds = args.long_feeds or (100 if quick else 1000)
    args.long_items = args.long_items or (2 if quick else 3)
    args.chats = args.chats or (300 if quick else 10_000)
    args.sections = {int(s) for s in args.sections.split(",") if s.strip()}
    return args


def verdict(name: str, ok: bool | None, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    mark = {True: "PASS", False: "FAIL", None: "----"}[ok]
    print(f"  [{mark}] {name}: {detail}", flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- the PostgreSQL server and its databases ---------------------------------------------------


@contextmanager
def postgres_server() -> Iterator[str]:
    """The server's URL: $NASHRA_TEST_POSTGRES_URL, else a throwaway cluster."""
    from support.postgres import URL_ENV, Cluster

    given = os.environ.get(URL_ENV, "").strip()
    if given:
        print(f"PostgreSQL: the server of ${URL_ENV}")
        yield given
        return
    with Cluster() as cluster:
        version = subprocess.run(["psql", "--version"], capture_output=True, text=True,
                                 check=False).stdout.strip() or "PostgreSQL"
        print(f"PostgreSQL: a throwaway cluster on port {cluster.port} ({version}; "
              "fsync, synchronous_commit and full_page_writes off, as for the tests)",
              flush=True)
        yield cluster.url


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards; its URL."""
    from support.postgres import create_database, drop_database

    name = f"nashra_bench_{label}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


# -- processes watched from here -----------------------------------------------------------------


@dataclass
class Watched:
    """A `python -m bot` process, its output in a file, its peak RSS and CPU time as last
    read from /proc while it ran."""

    name: str
    process: subprocess.Popen[str]
    log: Path
    peak_mb: float = 0.0
    cpu_s: float = 0.0
    exit_code: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def sample(self) -> None:
        """Read VmHWM and CPU time (both only grow: the last reading before the process
        ends is the closest to its final figures)."""
        if self.process.poll() is not None:
            return
        peak, cpu = sup.vm_hwm_mb(self.process.pid), sup.cpu_seconds(self.process.pid)
        if peak is not None:
            self.peak_mb = peak
        if cpu is not None:
            self.cpu_s = cpu

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for it to end (SIGKILL after ``timeout``)."""
        self.sample()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.exit_code = self.process.wait(timeout=30)
        return self.exit_code


@contextmanager
def bot_processes(config: Path, command: str, count: int, folder: Path,
                  env: dict[str, str] | None = None) -> Iterator[list[Watched]]:
    """``count`` `python -m bot --config CONFIG COMMAND` processes, stdout and stderr in
    files (a pipe nobody reads could block one); killed at the end if still running."""
    with ExitStack() as stack:
        watched: list[Watched] = []
        try:
            for n in range(count):
                log = folder / f"{command}{n + 1}.log"
                sink = stack.enter_context(log.open("w", encoding="utf-8"))
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", "--config", str(config), command],
                    env=env, stdout=sink, stderr=subprocess.STDOUT, text=True,
                    cwd=HERE.parent)
                watched.append(Watched(f"{command} {n + 1}", process, log))
            yield watched
        finally:
            for item in watched:
                if item.process.poll() is None:
                    item.process.kill()
                item.process.wait(timeout=30)


def fail(what: str, watched: Sequence[Watched]) -> None:
    tails = "".join(f"\n--- {w.name} ({w.log}), last lines:\n"
                    + "\n".join(w.output().splitlines()[-25:]) for w in watched)
    sys.exit(f"{what}{tails}")


# -- section 1: a long refresh, SQLite against one and two PostgreSQL workers ------------------


def write_config(folder: Path, model: Path, urls: Sequence[str], per_feed: int, *,
                 threads: int, beam: int, database_url: str = "") -> Path:
    """scale_support's config, plus storage.url and the workers' fetch settings."""
    folder.mkdir(parents=True, exist_ok=True)
    config = sup.write_config(folder / "config.toml", folder / "nashra.db", model, urls,
                              per_feed=per_feed, threads=threads, concurrency=None,
                              beam_size=beam)
    lines = config.read_text("utf-8").splitlines()
    lines.insert(lines.index("[storage]") + 1, f'url = "{database_url}"')
    lines.insert(lines.index("[fetch]") + 1, "interval_minutes = 60")
    lines.insert(lines.index("[fetch]") + 1, "lease_seconds = 60")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@dataclass
class RunResult:
    label: str
    stored_s: float                 # start to every article in the database
    processes: list[Watched]
    articles: int
    distinct_urls: int
    cache_rows: int
    busy: float                     # share of the machine's CPU time busy meanwhile
    exit_s: float | None = None     # start to the process's exit (the fetch)


def wait_stored(location: Path | str, expected: int, watched: Sequence[Watched],
                timeout: float, *, until_exit: bool = False) -> tuple[float, float | None]:
    """Seconds until ``expected`` articles are in the database (and, ``until_exit``, until
    the process ends), sampling the processes meanwhile."""
    start = time.perf_counter()
    stored_s = exit_s = None
    with sup.DatabaseReader(location) as db:
        while True:
            time.sleep(POLL)
            for item in watched:
                item.sample()
            now = time.perf_counter() - start
            if stored_s is None and (db.value("SELECT COUNT(*) FROM articles") or 0) >= expected:
                stored_s = now
            ended = [item for item in watched if item.process.poll() is not None]
            if until_exit and len(ended) == len(watched):
                exit_s = now
                if stored_s is None:
                    fail(f"the run ended with {db.value('SELECT COUNT(*) FROM articles')} of "
                         f"{expected} articles stored", watched)
                break
            if not until_exit and ended:
                fail(f"{ended[0].name} stopped early (exit {ended[0].process.returncode})",
                     watched)
            if stored_s is not None and not until_exit:
                break
            if now > timeout:
                fail(f"not done after {timeout:.0f} s", watched)
    assert stored_s is not None
    return stored_s, exit_s


def database_figures(location: Path | str) -> tuple[int, int, int]:
    with sup.DatabaseReader(location) as db:
        articles, distinct = db.rows(
            "SELECT COUNT(*), COUNT(DISTINCT canonical_url) FROM articles")[0]
        cache = db.rows("SELECT COUNT(*) FROM translation_cache")[0][0]
    return int(articles), int(distinct), int(cache)


def run_fetch(config: Path, folder: Path, expected: int, timeout: float) -> RunResult:
    """(a) `nashra fetch` on SQLite: the all-in-one refresh."""
    database = folder / "nashra.db"
    before = sup.machine_jiffies()
    with bot_processes(config, "fetch", 1, folder) as watched:
        stored_s, exit_s = wait_stored(database, expected, watched, timeout, until_exit=True)
    busy = sup.busy_share(before, sup.machine_jiffies())
    fetch = watched[0]
    fetch.exit_code = fetch.process.returncode
    found = FETCH_SUMMARY.findall(fetch.output())
    if fetch.exit_code != 0 or not found:
        fail(f"nashra fetch failed (exit {fetch.exit_code})", watched)
    fetch.summary = {"articles": expected, "translated": int(found[-1][0]),
                     "cached": int(found[-1][1])}
    articles, distinct, cache = database_figures(database)
    return RunResult("a", stored_s, watched, articles, distinct, cache, busy, exit_s)


def run_workers(label: str, config: Path, url: str, count: int, folder: Path, expected: int,
                timeout: float) -> RunResult:
    """(b), (c): ``count`` workers until everything is stored, then SIGTERM."""
    before = sup.machine_jiffies()
    with bot_processes(config, "worker", count, folder) as watched:
        stored_s, _ = wait_stored(url, expected, watched, timeout)
        busy = sup.busy_share(before, sup.machine_jiffies())
        # The last turn still gives its leases back and adds up its report: let it end, so
        # that the stop summaries count it.
        with sup.DatabaseReader(url) as db:
            deadline = time.monotonic() + 120
            while db.value("SELECT COUNT(*) FROM feeds WHERE lease_owner IS NOT NULL"):
                if time.monotonic() > deadline:
                    fail("leases still held 120 s after everything was stored", watched)
                time.sleep(0.2)
        time.sleep(1.0)
        codes = [item.stop() for item in watched]
    if any(codes):
        fail(f"worker exit codes {codes} after SIGTERM", watched)
    for item in watched:
        found = SUMMARY.search(item.output())
        if not found:
            fail(f"{item.name} printed no stop summary", watched)
        assert found is not None
        item.summary = {k: (v if k == "name" else int(v)) for k, v in found.groupdict().items()}
    articles, distinct, cache = database_figures(url)
    return RunResult(label, stored_s, watched, articles, distinct, cache, busy)


def warnings(item: Watched) -> int:
    return sum(" WARNING " in line or " ERROR " in line or "Traceback" in line
               for line in item.output().splitlines())


def describe(run: RunResult, title: str) -> None:
    print(f"  {run.label}. {title}: every article stored after {run.stored_s:.1f} s"
          + (f" (process ended at {run.exit_s:.1f} s)" if run.exit_s is not None else "")
          + f"; machine CPU busy {100 * run.busy:.0f} % meanwhile (load {load()})",
          flush=True)
    for item in run.processes:
        s = item.summary
        work = (f"{s['feeds']} feeds in {s['turns']} turns, {s['articles']} articles, "
                if "feeds" in s else f"{s['articles']} articles, ")
        print(f"       {item.name}: {work}{s['translated']} sentences translated "
              f"({s['cached']} from cache), CPU {item.cpu_s:.0f} s, "
              f"peak RSS {item.peak_mb:.0f} MB, {warnings(item)} warnings/errors logged",
              flush=True)


def section_refresh(args: argparse.Namespace, server_url: str, work: Path) -> None:
    import refresh as refresh_bench

    from bot.cli import ensure_model
    from bot.config import load_settings

    model = refresh_bench.test_model(args.cache_dir)
    feeds, per = args.long_feeds, args.long_items
    expected = feeds * per
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"1. Refresh of {feeds} feeds × {per} long distinct articles, beam {args.beam}, "
          f"tiny synthetic model (load {load()})", flush=True)
    with sup.LoopbackServer() as server:
        start = time.perf_counter()
        articles = sup.long_articles(expected)
        chars = sum(len(t) + sum(map(len, p)) for t, p in articles)
        urls = [server.add(i, f"/long/{i}.xml", sup.feed_body(
            sup.long_items(i, articles[i * per:(i + 1) * per], now),
            f"https://long{i % 50}.example"), stamp=i) for i in range(feeds)]
        del articles
        print(f"  generated {expected} articles, {chars / 1e6:.1f} M characters, in "
              f"{time.perf_counter() - start:.0f} s", flush=True)

        config = write_config(work / "a-sqlite", model, urls, per, threads=2, beam=args.beam)
        # The model, once, before any process starts (two processes installing it at the
        # same moment could break each other); a package folder is used in place.
        ensure_model(load_settings(str(config)))
        a = run_fetch(config, work / "a-sqlite", expected, args.run_timeout)
        describe(a, "SQLite, one `nashra fetch`, threads 2")
        runs = [a]
        for label, count, threads in (("b", 1, 2), ("c", 2, 1)):
            folder = work / f"{label}-pg{count}"
            with scratch_database(server_url, label) as url:
                config = write_config(folder, model, urls, per, threads=threads,
                                      beam=args.beam, database_url=url)
                run = run_workers(label, config, url, count, folder, expected,
                                  args.run_timeout)
            describe(run, f"PostgreSQL, {count} worker{'s' * (count > 1)}, threads "
                          f"{threads}{' each' * (count > 1)}")
            runs.append(run)
    a, b, c = runs
    print(f"  wall time to every article stored: a {a.stored_s:.1f} s, b {b.stored_s:.1f} s, "
          f"c {c.stored_s:.1f} s", flush=True)
    verdict("b/a: one PostgreSQL worker against SQLite `fetch`", None,
            f"{b.stored_s / a.stored_s:.2f}×")
    verdict("c/a: two PostgreSQL workers against SQLite `fetch`", None,
            f"{c.stored_s / a.stored_s:.2f}×")
    verdict("c/b: two workers against one (speed-up = b/c)", None,
            f"{c.stored_s / b.stored_s:.2f}× (speed-up {b.stored_s / c.stored_s:.2f}×)")
    for run in runs:
        once = run.articles == run.distinct_urls == expected
        told = sum(item.summary["articles"] for item in run.processes)
        verdict(f"{run.label}: every article stored once", once and told == expected,
                f"{run.articles} rows, {run.distinct_urls} distinct URLs, {told} reported "
                f"stored, {expected} expected")
        translated = sum(item.summary["translated"] for item in run.processes)
        verdict(f"{run.label}: every sentence translated once",
                translated == run.cache_rows == a.cache_rows,
                f"{translated} translated, {run.cache_rows} cache rows "
                f"(baseline {a.cache_rows})")
    shares = [item.summary["articles"] for item in c.processes]
    verdict("c: both workers did part of the work", all(shares),
            " + ".join(str(n) for n in shares) + " articles, feeds "
            + " + ".join(str(item.summary["feeds"]) for item in c.processes))
    verdict("peak RSS (reported)", None,
            f"a {a.processes[0].peak_mb:.0f} MB; b {b.processes[0].peak_mb:.0f} MB; c "
            + " and ".join(f"{item.peak_mb:.0f}" for item in c.processes) + " MB")


# -- section 2: the fan-out through two bot processes ------------------------------------------


def section_fanout(args: argparse.Namespace, server_url: str, work: Path) -> None:
    import refresh as refresh_bench
    from support.bot_harness import ADMIN, article_variants, make_bot_site
    from support.feed_server import FeedServer

    from bot.store.base import to_db_time

    tick_env = sup.first_attr("TICK_ENV", ["bot.telegram.schedule"])
    reschedule = sup.first_attr("reschedule", ["bot.due", "bot.telegram.schedule"])
    package = refresh_bench.test_model(args.cache_dir)
    print(f"2. Fan-out: {args.chats} chats due at the same second, {args.bots} `nashra bot` "
          f"process(es) on PostgreSQL, Telegram's limits enforced by the fake (load {load()})",
          flush=True)
    folder = work / "fanout"
    folder.mkdir()
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(server_url, "fanout"))
        tg = stack.enter_context(sup.stamped_telegram())
        feeds = stack.enter_context(FeedServer())
        tg.enforce_limits(overall_per_second=30, private_per_second=1, group_per_minute=20)
        site = make_bot_site(folder, tg, feeds, package, articles=article_variants(2),
                             database_url=url)
        start = time.perf_counter()
        with site.store() as store:
            chats = sup.subscribe_chats(store, args.chats, datetime.now(UTC))
        print(f"  {len(chats)} chats subscribed in {time.perf_counter() - start:.0f} s",
              flush=True)
        env = {**site.env(), tick_env: "1"}
        with bot_processes(site.config, "bot", args.bots, folder, env) as bots:
            deadline = time.monotonic() + 120
            while not (all("Nashra started as" in b.output() for b in bots)
                       and any("this process now leads" in b.output() for b in bots)
                       and tg.calls("getUpdates")):
                if time.monotonic() > deadline or any(b.process.poll() is not None
                                                      for b in bots):
                    fail("the bot processes did not both start, one leading", bots)
                time.sleep(0.2)
            leader = next(n for n, b in enumerate(bots)
                          if "this process now leads" in b.output())
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            sup.set_due(url, due, reschedule)   # a URL works as well as a path
            due_mono = time.monotonic() + (due.timestamp() - time.time())
            allowed_s = 3 * args.chats / 30 + 120
            done_at = None
            while time.monotonic() < due_mono + allowed_s:
                time.sleep(POLL)
                for b in bots:
                    b.sample()
                    if b.process.poll() is not None:
                        fail(f"{b.name} stopped (exit {b.process.returncode})", bots)
                left, waiting, digests = sup.outbox_state_at(url, to_db_time(due))
                if time.monotonic() > due_mono and not left and not waiting and digests:
                    done_at = time.monotonic()
                    break
            if done_at is None:
                fail(f"the fan-out did not finish within {allowed_s:.0f} s of its due time",
                     bots)
            codes = [b.stop() for b in bots]
        with tg._cond:
            stamps = list(tg.stamps)
        sends = tg.calls("sendMessage")
        limited = [c for c in sends if c["status"] == 429]
        wall_offset = time.time() - time.monotonic()
        delivered = len(tg.sent()) - len(tg.sent(ADMIN))
        check = sup.delivered_once_at(url, chats, stamps)
        with sup.DatabaseReader(url) as db:
            sent_rows = int(db.rows("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")[0][0])
    shares = []
    for b in bots:
        found = OUTBOX_STOPPED.findall(b.output())
        shares.append(int(found[-1]) if found else -1)
    wanted = set(chats)
    digest_times = [t for chat, _m, t in stamps if chat in wanted]
    during = [t for _c, _m, t in stamps if due_mono <= t <= max(digest_times)]
    fanout = max(digest_times) - due_mono
    ideal = len(during) / 30
    window = (due_mono + wall_offset, max(digest_times) + wall_offset)
    tried = [c for c in sends if window[0] <= c["time"] <= window[1] + 0.01]
    print(f"  {check['fake_messages']} digest messages to {len(chats)} chats "
          f"({len(during)} messages in all while they went out); {len(limited)} answers 429 "
          f"({sum(c.get('limit') == 'overall' for c in limited)} overall, "
          f"{sum(c.get('limit') == 'chat' for c in limited)} per chat)")
    print(f"  fan-out: due time to last digest {fanout:.1f} s, first to last "
          f"{max(digest_times) - min(digest_times):.1f} s; 30 messages/s allows {ideal:.1f} s; "
          f"sendMessage tried {len(tried) / fanout:.1f} times a second meanwhile "
          f"({len(tried)} calls, {sum(c['status'] == 429 for c in tried)} answered 429)")
    for n, b in enumerate(bots):
        print(f"  {b.name}{' (leader)' if n == leader else ''}: {shares[n]} messages sent, "
              f"CPU {b.cpu_s:.0f} s, peak RSS {b.peak_mb:.0f} MB, exit {codes[n]}")
    print(f"  exactly once: {check}", flush=True)
    once = (check["chats_without_digest"] == 0 and check["chats_mismatched"] == 0
            and check["not_sent"] == 0 and check["duplicates"] == 0
            and check["outbox_rows"] == check["fake_messages"])
    verdict("every digest delivered exactly once, none skipped", once,
            f"{check['fake_messages']} messages at the fake, {check['outbox_rows']} in the "
            f"outbox, {check['chats_without_digest']} chats without a digest")
    ratio = fanout / ideal
    verdict("fan-out time ≤ 1.1× messages/30", ratio <= 1.1,
            f"{fanout:.1f} s / {ideal:.1f} s = {ratio:.2f}×")
    verdict("each process delivered, together each message once",
            all(n > 0 for n in shares) and sum(shares) == delivered == sent_rows
            and not any(codes),
            f"{' + '.join(map(str, shares))} = {sum(shares)} sent by the processes, "
            f"{delivered} accepted by the fake, {sent_rows} outbox rows sent; exit codes "
            f"{codes}")
    verdict("bot processes' peak RSS (reported)", None,
            " and ".join(f"{b.peak_mb:.0f}" for b in bots) + " MB")
    problems = [line for b in bots for line in b.output().splitlines()
                if " WARNING " in line or " ERROR " in line]
    print(f"  the bot processes logged {len(problems)} warnings/errors"
          + "".join(f"\n    {line[:300]}" for line in problems[:8]), flush=True)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"Nashra PostgreSQL scale bench ({'quick' if args.quick else 'full size'}), "
          f"{os.cpu_count()} CPUs, load average {load()}", flush=True)
    if os.environ.pop("NASHRA_DATABASE_URL", None):   # it would override every config here
        print("  ($NASHRA_DATABASE_URL is ignored: each run makes a database of its own)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nashra-scale-pg-") as tmp, \
            postgres_server() as server_url:
        work = Path(tmp)
        if 1 in args.sections:
            section_refresh(args, server_url, work)
        if 2 in args.sections:
            section_fanout(args, server_url, work)
    print(f"Summary ({(time.perf_counter() - started) / 60:.1f} min, load {load()}):")
    for name, ok, detail in RESULTS:
        print(f"  {({True: 'PASS', False: 'FAIL', None: 'info'})[ok]:4}  {name}: {detail}")


if __name__ == "__main__":
    main(sys.argv[1:])
