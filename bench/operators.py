"""Operator features at operator scale, each against a baseline timed in the same run.

    uv run --locked python bench/operators.py            # full size
    uv run --locked python bench/operators.py --quick    # small smoke sizes

1. Language detection as the refresh runs it (bot/pipeline.py ``_languages``:
   languages.detect_all + settle) per 1,000 generated Arabic articles (bench/corpus.py), and
   per 1,000 mixed Arabic/Persian/Turkish ones, against the check it replaced
   (textnorm.arabic_ratio of each title + text); the RSS that loading py3langid adds, in a
   child process (after importing the bot's modules, after an Arabic batch, after the first
   Persian detection).
2. OPML: parse + plan + import of a 10,000-outline file into a fresh SQLite file, and the
   export of those 10,000 feeds, against store.sync_feeds of the same 10,000 from config.
3. Metrics: GET /metrics and /healthz over loopback HTTP against 10,000 chats and 100,000
   outbox rows, against a 404 from the same server (no store work); the query plans of the
   scrape's queries must use the outbox_status and chats_next_due indexes.
4. Feed health: review() at the end of a refresh of 10,000 feeds (500 failing, 50 of them
   for longer than fetch.pause_after_days) against that refresh's sync_feeds; exactly 50
   pauses, one notice per paused feed and admin, none more on the next refresh.

Medians of interleaved rounds; ratios, not wall times, are what compares across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import logging
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent), str(HERE)]

import corpus  # noqa: E402
import scale_support as sup  # noqa: E402
from foreign_corpus import foreign_article  # noqa: E402

from bot.config import FeedConfig, Settings, TelegramSettings  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.base import to_db_time  # noqa: E402

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
ADMINS = (7001, 7002, 7003)
ROWS: list[tuple[str, str, str, str, str]] = []   # what, measured, baseline, ratio, note
CHECKS: list[tuple[str, bool]] = []


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke sizes")
    parser.add_argument("--sections", default="1,2,3,4", help="e.g. 1,3 (default: all)")
    args = parser.parse_args(argv)
    q = args.quick
    args.articles, args.rounds = (200, 3) if q else (1000, 7)
    args.feeds, args.chats = (1000, 1000) if q else (10_000, 10_000)
    args.outbox, args.scrapes = (10_000, 30) if q else (100_000, 200)
    args.failing, args.overdue = (50, 5) if q else (500, 50)
    args.sections = {int(s) for s in args.sections.split(",") if s.strip()}
    return args


def row(what: str, measured: float, baseline: float, unit: str = "ms", note: str = "") -> None:
    ROWS.append((what, f"{measured:.2f} {unit}", f"{baseline:.2f} {unit}",
                 f"{measured / baseline:.2f}×" if baseline else "-", note))
    print(f"  {what}: {measured:.2f} {unit} vs {baseline:.2f} {unit} "
          f"({measured / baseline if baseline else float('nan'):.2f}×) {note}", flush=True)


def check(name: str, ok: bool, detail: str) -> None:
    CHECKS.append((f"{name}: {detail}", ok))
    print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}", flush=True)


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def interleaved(rounds: int, measured: Callable[[], Any], baseline: Callable[[], Any],
                before: Callable[[], Any] = lambda: None) -> tuple[float, float]:
    """Median ms of each, alternating which goes first (the machine may be shared);
    ``before`` runs, untimed, at the start of each round."""
    ms: list[float] = []
    bs: list[float] = []
    for n in range(rounds):
        before()
        if n % 2:
            bs.append(timed(baseline))
            ms.append(timed(measured))
        else:
            ms.append(timed(measured))
            bs.append(timed(baseline))
    return statistics.median(ms), statistics.median(bs)


# -- section 1: language detection -----------------------------------------------------------

def arabic_articles(count: int) -> list[tuple[str, str]]:
    """bench/corpus.py's articles (through scale_support: one seed runs out of headlines)."""
    return [(title, "\n\n".join(paragraphs)) for title, paragraphs in sup.long_articles(count)]


def mixed_articles(count: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Half Arabic, 30 % Persian, 20 % Turkish, shuffled; and each one's language."""
    rng = random.Random(43)
    fa, tr = count * 3 // 10, count // 5
    made = ([(a, "ar") for a in arabic_articles(count - fa - tr)]
            + [(foreign_article(rng, "fa"), "fa") for _ in range(fa)]
            + [(foreign_article(rng, "tr"), "tr") for _ in range(tr)])
    rng.shuffle(made)
    return [a for a, _ in made], [lang for _, lang in made]


def new_check(texts: Sequence[str], settings: Settings) -> list[str]:
    """What pipeline._languages does for a feed without a set language."""
    from bot import languages

    found = languages.detect_all(texts, languages.detection_languages(settings))
    return languages.settle(texts, found, settings, {})


def old_check(articles: Sequence[tuple[str, str]], settings: Settings) -> list[str]:
    """The check it replaced: the source language when half the letters are Arabic."""
    from bot.textnorm import arabic_ratio

    shares = [arabic_ratio(f"{title} {text}") for title, text in articles]
    return [settings.translation.source if s >= 0.5 else "und" for s in shares]


def section_languages(args: argparse.Namespace) -> None:
    print(f"1. Language detection, {args.articles} articles a batch (load {load()})", flush=True)
    settings = Settings()
    arabic = arabic_articles(args.articles)
    languages_batch("Arabic", arabic, ["ar"] * len(arabic), settings, args)
    languages_batch("ar/fa/tr mix", *mixed_articles(args.articles), settings, args)
    rss = sup.run_child(Path(__file__), "rss", {})
    ROWS.append(("py3langid model, RSS", f"+{rss['model_mb']:.1f} MB",
                 f"{rss['bot_mb']:.0f} MB", "-",
                 f"bot modules imported; loaded once in {rss['load_ms']:.0f} ms, "
                 f"peak {rss['peak_mb']:.0f} MB while loading"))
    print(f"  RSS: {rss['bot_mb']:.1f} MB with the bot's modules, {rss['arabic_mb']:.1f} MB "
          f"after an Arabic batch, {rss['loaded_mb']:.1f} MB after the first Persian detection "
          f"(+{rss['model_mb']:.1f} MB, {rss['load_ms']:.0f} ms); peak {rss['peak_mb']:.1f} MB",
          flush=True)
    check("an Arabic-only batch never loads py3langid", not rss["loaded_by_arabic"],
          f"detectors after the Arabic batch: {rss['loaded_by_arabic']}")


def languages_batch(name: str, articles: list[tuple[str, str]], truth: list[str],
                    settings: Settings, args: argparse.Namespace) -> None:
    texts = [f"{title}\n{text}" for title, text in articles]
    new_check(texts, settings)   # a mixed batch loads the model once: not measured here
    new, old = interleaved(args.rounds, lambda: new_check(texts, settings),
                           lambda: old_check(articles, settings))
    per = 1000 / len(texts)
    row(f"languages: {name} ×1,000", new * per, old * per,
        note="detect_all+settle vs arabic_ratio")
    found, before = new_check(texts, settings), old_check(articles, settings)
    right = sum(f == t for f, t in zip(found, truth, strict=True))
    was = sum(f == t for f, t in zip(before, truth, strict=True))
    check(f"{name} batch labelled right", right == len(truth),
          f"{right}/{len(truth)} (the old check: {was}/{len(truth)})")


def child_rss(_params: dict[str, Any]) -> dict[str, Any]:
    import bot.pipeline  # noqa: F401 - what a refresh process has imported
    from bot import languages

    settings = Settings()
    gc.collect()
    bot_mb = vm_rss_mb()
    new_check([f"{t}\n{b}" for t, b in arabic_articles(50)], settings)
    gc.collect()
    arabic_mb, loaded_by_arabic = vm_rss_mb(), len(languages._detectors)
    title, body = foreign_article(random.Random(1), "fa")
    load_ms = timed(lambda: new_check([f"{title}\n{body}"], settings))
    gc.collect()
    loaded_mb = vm_rss_mb()
    return {"bot_mb": bot_mb, "arabic_mb": arabic_mb, "loaded_mb": loaded_mb,
            "model_mb": loaded_mb - arabic_mb, "load_ms": load_ms,
            "loaded_by_arabic": loaded_by_arabic, "peak_mb": sup.peak_rss_mb()}


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- section 2: OPML -----------------------------------------------------------------------------

_FOLDERS = ["أخبار", "اقتصاد", "رياضة", "News", "Tech", "ایران", "Türkiye", "ثقافة"]


def feed_list(count: int) -> list[FeedConfig]:
    """Feeds in 8 folders, two fifths of them in sub-folders ("أخبار / بيروت"): about 100
    categories; Arabic names."""
    feeds = []
    for i in range(count):
        top, sub = _FOLDERS[i % 8], i % 5
        category = top if sub < 3 else f"{top} / {corpus._PLACES[(i // 8) % 30]}"
        feeds.append(FeedConfig(f"https://news{i % 300}.example/feeds/{i}.xml",
                                f"{corpus._PLACES[i % 30]} — نشرة {i}", category))
    return feeds


def opml_document(feeds: Sequence[FeedConfig]) -> bytes:
    """An export as Feedly or Inoreader writes one: nested folder outlines."""
    from xml.sax.saxutils import quoteattr

    tree: dict[str, dict[str, list[FeedConfig]]] = {}
    for feed in feeds:
        top, _, sub = feed.category.partition(" / ")
        tree.setdefault(top, {}).setdefault(sub, []).append(feed)

    def outline(feed: FeedConfig) -> str:
        name = quoteattr(feed.name)
        return (f'<outline type="rss" text={name} title={name} xmlUrl={quoteattr(feed.url)} '
                f'htmlUrl="{feed.url.rsplit("/", 2)[0]}/"/>')

    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<opml version="1.0"><head>'
             "<title>Subscriptions</title></head><body>"]
    for top, subs in tree.items():
        parts.append(f"<outline text={quoteattr(top)} title={quoteattr(top)}>")
        parts += [outline(f) for f in subs.pop("", [])]
        for sub, items in subs.items():
            parts.append(f"<outline text={quoteattr(sub)}>")
            parts += [outline(f) for f in items] + ["</outline>"]
        parts.append("</outline>")
    return "\n".join([*parts, "</body></opml>"]).encode("utf-8")


def section_opml(args: argparse.Namespace, work: Path) -> None:
    from bot.opml import export_opml, parse_opml, plan_import, state_feeds

    configs = feed_list(args.feeds)
    data = opml_document(configs)
    print(f"2. OPML: {args.feeds} outlines, {len(data) / 1e6:.1f} MB (load {load()})", flush=True)
    # A fresh file for each import and each sync; opening (creating) it is not timed.
    stores = [Store(work / f"opml-{n}.db") for n in range(2 * args.rounds)]
    to_import, to_sync = iter(stores[::2]), iter(stores[1::2])

    def import_all(store: Store) -> int:
        found = parse_opml(data, "bench.opml")
        return store.import_feeds(plan_import(found, store.feeds(), []).new, NOW)

    imported, synced = interleaved(args.rounds, lambda: import_all(next(to_import)),
                                   lambda: next(to_sync).sync_feeds(configs, NOW))
    row(f"OPML import of {args.feeds} feeds", imported, synced,
        note="parse+plan+import_feeds vs sync_feeds")
    parse_ms = statistics.median(timed(lambda: parse_opml(data)) for _ in range(3))
    print(f"  of which parsing: {parse_ms:.0f} ms", flush=True)
    store = stores[0]
    feeds = store.feeds(active_only=True)
    export = export_opml(state_feeds(feeds), created=NOW)
    exported, resynced = interleaved(
        args.rounds, lambda: export_opml(state_feeds(store.feeds(active_only=True)), created=NOW),
        lambda: store.sync_feeds(configs, NOW))
    row(f"OPML export of {args.feeds} feeds", exported, resynced,
        note="feeds()+export_opml vs sync_feeds")
    back = parse_opml(export)
    wanted = {(f.url, f.name, f.category) for f in configs}
    check("import stores every feed with its folder",
          {(f.url, f.name, f.category) for f in feeds} == wanted, f"{len(feeds)} feeds, "
          f"{len({f.category for f in feeds})} categories")
    check("export reads back the same", {(f.url, f.name, f.category) for f in back.feeds}
          == wanted and not back.skipped, f"{len(back.feeds)} feeds, {len(export) / 1e6:.1f} MB")
    for each in stores:
        each.close()


# -- section 3: metrics scrape -------------------------------------------------------------------


def fill_chats_and_outbox(store: Store, chats: int, outbox: int) -> dict[str, int]:
    """Subscribed chats due over the next day (5 % overdue, a tenth unsubscribed) and an
    outbox 97 % sent, 2 % pending, 0.5 % sending, 0.5 % failed; the expected depths."""
    chat_rows = [{"id": 20_000 + n, "sub": int(n % 10 != 0), "now": to_db_time(NOW),
                  "due": to_db_time(NOW + timedelta(minutes=(n % 1440) - 72))}
                 for n in range(chats)]
    statuses = ["sent"] * 194 + ["pending"] * 4 + ["sending", "failed"]
    rows = [{"chat": 20_000 + n % chats, "digest": f"d{n // 3}", "seq": n % 3,
             "status": statuses[n % 200], "now": to_db_time(NOW - timedelta(seconds=n))}
            for n in range(outbox)]
    with store._transaction() as db:
        db.executemany("INSERT INTO chats (id, type, title, subscribed, times, timezone, "
                       "max_items, created, next_due_at) VALUES (:id, 'private', '', :sub, "
                       "'08:00', 'UTC', 10, :now, :due)", chat_rows)
        db.executemany("INSERT INTO outbox (chat_id, digest_id, seq, text, status, created, "
                       "sent_at) VALUES (:chat, :digest, :seq, 'نشرة اليوم', :status, :now, "
                       "CASE WHEN :status = 'sent' THEN :now END)", rows)
    return {s: sum(r["status"] == s for r in rows) for s in ("pending", "sending", "failed")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def section_metrics(args: argparse.Namespace, work: Path) -> None:
    import sqlite3

    from bot.metrics import MetricsServer

    print(f"3. Metrics: {args.chats} chats, {args.outbox} outbox rows (load {load()})",
          flush=True)
    path = work / "metrics.db"
    with Store(path) as store:
        depth = fill_chats_and_outbox(store, args.chats, args.outbox)
    server = MetricsServer(f"127.0.0.1:{free_port()}", path, clock=lambda: NOW).start()
    try:
        times: dict[str, list[float]] = {"/metrics": [], "/healthz": [], "/none": []}
        bodies: dict[str, bytes] = {}
        for n in range(args.scrapes):
            order = list(times) if n % 2 else list(times)[::-1]
            for target in order:
                start = time.perf_counter()
                status, bodies[target] = get(server.port, target)
                times[target].append((time.perf_counter() - start) * 1000)
                assert status == (404 if target == "/none" else 200), (target, status)
        statements: list[str] = []
        assert server.reader._connection is not None
        with server.reader._connection.use() as db:
            db.set_trace_callback(statements.append)
        get(server.port, "/metrics")
        get(server.port, "/healthz")
    finally:
        server.close()
    base = statistics.median(times["/none"])
    for target in ("/metrics", "/healthz"):
        row(f"GET {target}", statistics.median(times[target]), base,
            note=f"vs a 404 of the same server; p95 {sup.percentile(times[target], 0.95):.2f}")
    plain = sqlite3.connect(path)
    count_ms = statistics.median(timed(lambda: plain.execute(
        "SELECT COUNT(*) FROM outbox").fetchone()) for _ in range(20))
    print(f"  for scale: a plain SELECT COUNT(*) FROM outbox takes {count_ms:.2f} ms", flush=True)
    ROWS.append(("SELECT COUNT(*) FROM outbox", f"{count_ms:.2f} ms", "-", "-",
                 f"{args.outbox} rows, for scale"))
    text = bodies["/metrics"].decode()
    shown = all(f'nashra_outbox_messages{{status="{s}"}} {float(n)}' in text
                for s, n in depth.items())
    check("scrape shows the outbox depth", shown, str(depth))
    plans = [(sql, " ".join(str(r[3]) for r in plain.execute(f"EXPLAIN QUERY PLAN {sql}")))
             for sql in dict.fromkeys(statements) if " FROM outbox" in sql or " FROM chats" in sql]
    plain.close()
    for sql, plan in plans:
        index = "outbox_status" if " FROM outbox" in sql else "chats_next_due"
        check(f"plan uses {index}", index in plan and "SCAN" not in plan,
              f"{sql[:60]}… → {plan}")
    check("scrape runs the expected queries", len(plans) == 4, f"{len(plans)} store queries")


# -- section 4: feed health review ---------------------------------------------------------------


def section_health(args: argparse.Namespace, work: Path) -> None:
    from bot.feed_health import review
    from bot.pipeline import FeedReport

    print(f"4. Feed health: {args.feeds} feeds, {args.failing} failing, {args.overdue} past "
          f"pause_after_days (load {load()})", flush=True)
    configs = feed_list(args.feeds)
    settings = Settings(telegram=TelegramSettings(admins=ADMINS), feeds=tuple(configs))
    days = settings.fetch.pause_after_days
    with Store(work / "health.db") as store:
        store.sync_feeds(configs, NOW - timedelta(days=30))
        failing = [{"id": i + 1, "since": to_db_time(NOW - timedelta(
            days=days + 1 if i < args.overdue else days - 1, hours=i % 20))}
            for i in range(args.failing)]
        with store._transaction() as db:
            db.executemany("UPDATE feeds SET error_count = 5, last_error = 'HTTP 503', "
                           "failing_since = :since WHERE id = :id", failing)
        feeds = store.sync_feeds(configs, NOW)
        failed = {f["id"] for f in failing}
        outcomes = [FeedReport(f.name, f.url, error="HTTP 503" if f.id in failed else None)
                    for f in feeds]

        def reset() -> None:
            with store._transaction() as db:
                db.execute("UPDATE feeds SET paused_at = NULL, next_check = NULL")
                db.execute("DELETE FROM outbox WHERE kind = 'notice'")

        reviewed, synced = interleaved(
            args.rounds, lambda: asyncio.run(review(store, settings, feeds, outcomes, NOW)),
            lambda: store.sync_feeds(configs, NOW), before=reset)
        row(f"feed-health review, {args.feeds} feeds", reviewed, synced,
            note=f"{args.overdue} pauses vs the refresh's sync_feeds")
        paused = store._db.execute("SELECT COUNT(*) FROM feeds WHERE paused_at IS NOT NULL"
                                   ).fetchone()[0]
        notices = store._db.execute("SELECT chat_id, COUNT(*), COUNT(DISTINCT text) FROM outbox "
                                    "WHERE kind = 'notice' GROUP BY chat_id").fetchall()
        check(f"exactly {args.overdue} feeds paused", paused == args.overdue, str(paused))
        each = {int(r[0]): (r[1], r[2]) for r in notices}
        check("one notice per paused feed and admin",
              each == {a: (args.overdue, args.overdue) for a in ADMINS}, str(each))
        later = NOW + timedelta(minutes=10)
        again = timed(lambda: asyncio.run(review(store, settings, store.sync_feeds(configs, later),
                                                 outcomes, later)))
        total = store._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        check("the next refresh's review pauses and tells nothing more",
              total == args.overdue * len(ADMINS), f"{total} notices, {again:.0f} ms")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        import json

        print(json.dumps({"rss": child_rss}[argv[1]](json.loads(argv[2]))))
        return
    args = parse_args(argv)
    logging.disable(logging.WARNING)   # section 4's pauses log a warning each, every round
    print(f"Nashra operators bench ({'quick' if args.quick else 'full size'}), "
          f"{os.cpu_count()} CPUs, load average {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="nashra-operators-") as tmp:
        sections = {1: lambda: section_languages(args), 2: lambda: section_opml(args, Path(tmp)),
                    3: lambda: section_metrics(args, Path(tmp)),
                    4: lambda: section_health(args, Path(tmp))}
        for number in sorted(args.sections):
            sections[number]()
    widths = [max(len(r[i]) for r in [("what", "measured", "baseline", "ratio", ""), *ROWS])
              for i in range(4)]
    print("Summary (medians; ratio = measured / baseline):")
    for line in [("what", "measured", "baseline", "ratio", "baseline is"), *ROWS]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False))
              + "  " + line[4])
    for name, ok in CHECKS:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if not all(ok for _name, ok in CHECKS):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
