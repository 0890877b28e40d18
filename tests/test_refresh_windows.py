"""Refresh windows: articles stored as their window is translated, failures contained, the
event loop never asleep on a locked database, and a kill -9 losing at most one window.

Waits are on events, gates and database state (polled from a second connection), never on
how long something took: a deadline only turns a hang into a failure. Tests of the refresh run
on both store engines (``store_location``); the locked-database one is SQLite's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from support.arabic_samples import ARTICLES, SampleArticle, rss_with_content_encoded
from support.bot_harness import postgres_url_of
from support.feed_server import FeedServer

from bot import refresh_windows, textnorm
from bot.analysis import STOPWORDS
from bot.cli import ensure_model
from bot.config import Settings, load_settings
from bot.errors import StoreError
from bot.fetch import Fetcher, FetchSettings
from bot.models import FeedState, ModelInfo, Translation
from bot.pipeline import FeedReport, RefreshReport, refresh
from bot.store import Store, base
from bot.store.base import ReadConnection
from bot.store.connection import database_errors
from bot.terms import stem
from bot.translate import EngineSettings, TranslationCache, Translator

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
DEADLINE = 120.0  # seconds before a wait counts as a hang


def stories(count: int, tag: str = "") -> list[SampleArticle]:
    """Distinct stories, each with a sentence of its own (real work for the model)."""
    made = []
    for n in range(count):
        a = ARTICLES[n % len(ARTICLES)]
        made.append(dataclasses.replace(
            a, slug=f"{a.slug}{tag}-{n}", title=f"{a.title} ({tag}{n})",
            paragraphs=(*a.paragraphs, marker(n, tag))))
    return made


def marker(n: int, tag: str = "") -> str:
    return f"وذكر المراسل في تقريره رقم {n}{tag} أن التفاصيل الكاملة ستنشر لاحقا."


def write_config(folder: Path, model: Path, feeds: dict[str, str], *extra: str,
                 store_location: Path | str = "") -> Path:
    """SQLite in ``folder``, or ``store_location``'s PostgreSQL database (``storage.url``;
    the model folder stays beside ``storage.path``)."""
    lines = ["[storage]", f'path = "{folder / "nashra.db"}"',
             f'url = "{postgres_url_of(store_location)}"',
             "[translation]", f'model = "{model}"', "threads = 1",
             "[fetch]", "timeout_seconds = 60", "max_entries = 100", *extra]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"']
    config = folder / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@contextmanager
def pipeline(settings: Settings, model: ModelInfo | None = None,
             translator_class: type[Translator] = Translator
             ) -> Iterator[tuple[Store, Translator]]:
    model = model or ensure_model(settings)
    with Store(settings.database) as store:
        translator = translator_class(model, EngineSettings(threads=1), store)
        try:
            yield store, translator
        finally:
            translator.close()


async def run(settings: Settings, store: Store, translator: Translator, *,
              progress: Callable[[FeedReport], None] | None = None) -> RefreshReport:
    async with Fetcher(FetchSettings(timeout_seconds=60)) as fetcher:
        return await refresh(settings, store, fetcher, translator, force=True,
                             progress=progress)


def query(location: Path | str, sql: str,
          params: Mapping[str, object] | None = None) -> list[tuple[object, ...]]:
    """Read through a second, read-only connection, as another process would: the SQLite
    file or the PostgreSQL URL, ``:name`` parameters on both."""
    reader = ReadConnection(location)
    try:
        with reader.use() as db:
            return [tuple(row) for row in db.execute(sql, params or {}).fetchall()]
    finally:
        reader.close()


def count(location: Path | str, where: str = "1 = 1") -> int:
    return int(str(query(location, f"SELECT COUNT(*) FROM articles WHERE {where}")[0][0]))


async def until(condition: Callable[[], bool], task: asyncio.Task[RefreshReport]) -> None:
    """Poll ``condition`` while the refresh runs; fail if it ends first or hangs."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert not task.done(), "the refresh ended before the condition held"
        assert time.monotonic() < deadline, "hang"
        await asyncio.sleep(0.02)


def test_a_fast_feed_is_stored_while_a_slow_feed_holds_the_refresh_open(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        store_location: Path | str) -> None:
    gate = threading.Event()
    fast, slow = stories(4, "f"), stories(3, "s")
    base_url = feed_server.base_url
    feeds = {"fast": feed_server.add("/fast.xml", rss_with_content_encoded(fast, base_url),
                                     headers=RSS),
             "slow": feed_server.add_gated("/slow.xml", rss_with_content_encoded(slow, base_url),
                                           gate, headers=RSS)}
    settings = load_settings(str(write_config(tmp_path, argos_package, feeds,
                                              store_location=store_location)))
    db = settings.database

    async def scenario() -> RefreshReport:
        with pipeline(settings) as (store, translator):  # the database exists from here on
            task = asyncio.create_task(run(settings, store, translator))
            try:
                await until(lambda: count(db, "title_translated != ''") == 4, task)
                assert not task.done()
                assert feed_server.requests_for("/slow.xml")  # held at the gate
                assert query(db, "SELECT last_fetched FROM feeds WHERE name = 'slow'") == [
                    (None,)]
            finally:
                gate.set()
            return await task

    report = asyncio.run(scenario())
    by_name = {f.name: f for f in report.feeds}
    assert by_name["fast"].new == 4 and by_name["slow"].new == 3
    assert report.failed_feeds == 0
    assert len(report.new_article_ids) == len(set(report.new_article_ids)) == 7
    assert count(db, "untranslated = 0 AND model != ''") == 7


def test_at_most_limit_feeds_wait_in_memory_however_slow_the_windows() -> None:
    async def scenario() -> tuple[int, int]:
        ready = refresh_windows.ReadyFeeds(expected=12, limit=3)
        started = taken = most = 0

        async def collect(n: int) -> refresh_windows.Collected:
            nonlocal started, most
            started += 1
            most = max(most, started - taken)
            await asyncio.sleep(0)
            return refresh_windows.Collected(FeedState(n, f"u{n}", f"f{n}"),
                                             FeedReport(f"f{n}", f"u{n}"))

        jobs = [asyncio.create_task(ready.collect(partial(collect, n))) for n in range(12)]
        while window := await ready.next_window():
            taken += len(window.done)
            for _ in range(20):  # a slow consumer: collections would run far ahead
                await asyncio.sleep(0)
        await asyncio.gather(*jobs)
        return most, taken

    assert asyncio.run(scenario()) == (3, 12)


class CountingTranslator(Translator):
    """Records the characters of every translate call (one call per window)."""

    def __init__(self, model: ModelInfo, settings: EngineSettings,
                 cache: TranslationCache) -> None:
        super().__init__(model, settings, cache)
        self.calls: list[int] = []

    async def translate(self, texts: Sequence[str]) -> list[Translation]:
        self.calls.append(sum(map(len, texts)))
        return await super().translate(texts)


def test_many_articles_go_through_several_bounded_windows(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, store_location: Path | str) -> None:
    monkeypatch.setattr(refresh_windows, "WINDOW_CHARS", 2500)
    items = stories(12)
    base_url = feed_server.base_url
    feeds = {"one": feed_server.add("/one.xml", rss_with_content_encoded(items[:7], base_url),
                                    headers=RSS),
             "two": feed_server.add("/two.xml", rss_with_content_encoded(items[7:], base_url),
                                    headers=RSS)}
    settings = load_settings(str(write_config(tmp_path, argos_package, feeds,
                                              store_location=store_location)))
    with pipeline(settings, translator_class=CountingTranslator) as (store, translator):
        report = asyncio.run(run(settings, store, translator))
        assert isinstance(translator, CountingTranslator)
        calls = translator.calls
    longest = max(len(a.title) + len(a.text) for a in items)
    assert len(calls) >= 4
    assert all(chars <= max(2500, longest) for chars in calls), calls
    assert report.new_articles == 12 and report.failed_feeds == 0
    assert sorted(report.new_article_ids) == [row[0] for row in query(
        settings.database, "SELECT id FROM articles ORDER BY id")]


def test_a_failing_model_stores_untranslated_and_a_later_refresh_translates(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, store_location: Path | str) -> None:
    monkeypatch.setattr(refresh_windows, "WINDOW_CHARS", 2500)
    monkeypatch.setattr(refresh_windows, "RETRY_LIMIT", 4)
    items = stories(7)
    base_url = feed_server.base_url
    feeds = {"one": feed_server.add("/one.xml", rss_with_content_encoded(items[:3], base_url),
                                    headers=RSS),
             "two": feed_server.add("/two.xml", rss_with_content_encoded(items[3:], base_url),
                                    headers=RSS),
             "gone": feed_server.url("/gone.xml")}
    settings = load_settings(str(write_config(tmp_path, argos_package, feeds,
                                              store_location=store_location)))
    db = settings.database
    model = ensure_model(settings)
    vanished = dataclasses.replace(model, path=str(tmp_path / "vanished"))  # same model id

    with pipeline(settings, vanished) as (store, translator):
        failed = asyncio.run(run(settings, store, translator))
    by_name = {f.name: f for f in failed.feeds}
    assert set(by_name) == {"one", "two", "gone"}  # every feed's report is recorded
    assert by_name["gone"].error and "404" in by_name["gone"].error
    for name, new in (("one", 3), ("two", 4)):
        assert by_name[name].error is None
        assert by_name[name].new == by_name[name].untranslated == new
    assert failed.translate_error and failed.translate_error.startswith("translate: model")
    assert count(db, "untranslated = 1 AND model = '' AND title_translated = ''") == 7
    assert query(db, "SELECT name, error_count FROM feeds ORDER BY id") == [
        ("one", 0), ("two", 0), ("gone", 1)]  # a model failure is no feed's back-off

    with pipeline(settings, model) as (store, translator):
        first = asyncio.run(run(settings, store, translator))
        second = asyncio.run(run(settings, store, translator))
    assert (first.retranslated, second.retranslated) == (4, 3)  # RETRY_LIMIT per refresh
    assert first.new_articles == second.new_articles == 0
    assert first.translate_error is None
    assert count(db, "untranslated = 0 AND model != '' AND title_translated != ''") == 7
    title = str(query(db, "SELECT title_translated FROM articles LIMIT 1")[0][0])
    word = max((w for w in re.findall(r"[A-Za-z]{3,}", title) if w.lower() not in STOPWORDS),
               key=len)
    # The search index has the translation, as written and as stems, filled in later.
    if postgres_url_of(store_location):  # the article row's tsvectors; titles weigh A
        hits = "SELECT COUNT(*) FROM articles WHERE {} @@ to_tsquery('simple', :q)"
        exact = query(db, hits.format("search_exact"), {"q": f"{word.lower()}:A"})
        stems = query(db, hits.format("search_stems"), {"q": f"{stem(word.lower())}:A"})
    else:  # the FTS5 table's title columns
        exact = query(db, "SELECT COUNT(*) FROM search_index "
                          f"WHERE search_index MATCH 'title_en : \"{word}\"'")
        stems = query(db, "SELECT COUNT(*) FROM search_index "
                          f"WHERE search_index MATCH 'title_stems : \"{stem(word.lower())}\"'")
    assert int(str(exact[0][0])) >= 1 and int(str(stems[0][0])) >= 1


class _Seen(logging.Handler):
    def __init__(self, text: str, then: Callable[[], None]) -> None:
        super().__init__()
        self.text, self.then = text, then

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.then()


def test_a_locked_database_is_waited_for_off_the_event_loop(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite only: a whole-database write lock (BEGIN IMMEDIATE) and the store's retries on
    it; PostgreSQL locks rows, and the store has no lock to wait for there."""
    monkeypatch.setattr(refresh_windows, "LOCK_RETRY_DELAYS", (0.02,) * 3000)
    caplog.set_level(logging.INFO, logger="bot.refresh_windows")
    feeds = {"one": feed_server.add("/one.xml", rss_with_content_encoded(
        stories(2), feed_server.base_url), headers=RSS)}
    settings = load_settings(str(write_config(tmp_path, argos_package, feeds)))
    loop_thread = threading.get_ident()
    slept_on_loop: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.get_ident() == loop_thread:
            slept_on_loop.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(base.time, "sleep", sleep)
    holder = sqlite3.connect(settings.database_path, isolation_level=None)

    def lock(_report: FeedReport) -> None:  # the feed is collected; its window comes next
        holder.execute("BEGIN IMMEDIATE")

    async def scenario() -> RefreshReport:
        busy, ticked = asyncio.Event(), asyncio.Event()
        handler = _Seen("database busy", busy.set)
        logging.getLogger("bot.refresh_windows").addHandler(handler)
        try:
            with pipeline(settings) as (store, translator):
                task = asyncio.create_task(run(settings, store, translator, progress=lock))
                await asyncio.wait_for(busy.wait(), DEADLINE)
                asyncio.get_running_loop().call_soon(ticker, ticked, 5)
                await asyncio.wait_for(ticked.wait(), DEADLINE)  # the loop kept running
                assert not task.done()
                holder.execute("COMMIT")
                return await task
        finally:
            logging.getLogger("bot.refresh_windows").removeHandler(handler)

    report = asyncio.run(scenario())
    holder.close()
    assert slept_on_loop == []
    assert report.failed_feeds == 0 and report.new_articles == 2
    assert count(settings.database_path, "untranslated = 0") == 2


def ticker(done: asyncio.Event, left: int) -> None:
    """Five turns of the loop, each scheduled from the previous one."""
    if left == 0:
        done.set()
        return
    asyncio.get_running_loop().call_later(0.01, ticker, done, left - 1)


# -- kill -9 of `nashra fetch` ------------------------------------------------------------------

WINDOW = 2500
# `nashra fetch` as the CLI runs it, with small windows so a few dozen articles make many.
_LAUNCHER = f"""
import sys
import bot.refresh_windows
bot.refresh_windows.WINDOW_CHARS = {WINDOW}
from bot.cli import main
main(args=sys.argv[1:], prog_name="nashra")
"""


def fetch_process(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, "--config", str(config), "fetch",
                             "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "hang"
        time.sleep(0.01)


def translated_markers(location: Path | str, items: Sequence[SampleArticle]) -> int:
    """Articles whose own sentence is in the translation cache: translated, stored or not."""
    cached = {row[0] for row in query(location, "SELECT source FROM translation_cache")}
    return sum(textnorm.normalize_sentence(marker(n)) in cached for n in range(len(items)))


def test_kill_9_during_a_multi_window_fetch_loses_at_most_one_window(
        feed_server: FeedServer, argos_package: Path, tmp_path: Path,
        store_location: Path | str) -> None:
    """Nothing half-stored, at most one window's work lost, and the next run completes. The
    SQLite file must also pass PRAGMA integrity_check; in PostgreSQL the server rolls the
    killed client's transaction back, and every stored article has its search vectors."""
    items = stories(30)
    gate = threading.Event()
    base_url = feed_server.base_url
    feeds = {"big": feed_server.add("/big.xml", rss_with_content_encoded(items, base_url),
                                    headers=RSS),
             "held": feed_server.add_gated("/held.xml", rss_with_content_encoded(
                 stories(2, "h"), base_url), gate, headers=RSS)}
    config = write_config(tmp_path, argos_package, feeds, store_location=store_location)
    db = postgres_url_of(store_location) or tmp_path / "nashra.db"
    per_window = WINDOW // min(len(a.title) + len(a.text) for a in items) + 1

    process = fetch_process(config)
    try:
        wait_for(lambda: _has_articles(db), process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    stored = count(db)
    assert stored > 0
    assert translated_markers(db, items) - stored <= per_window
    if isinstance(db, Path):
        assert query(db, "PRAGMA integrity_check") == [("ok",)]
    else:
        assert count(db, "search_exact IS NULL OR search_stems IS NULL") == 0
        assert not (tmp_path / "nashra.db").exists()  # the run used PostgreSQL only
    assert count(db, "title_translated = '' OR lead = '' OR model = ''") == 0

    gate.set()
    again = fetch_process(config)
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert count(db) == len(items) + 2
    assert query(db, "SELECT COUNT(DISTINCT title_original), COUNT(DISTINCT canonical_url) "
                     "FROM articles") == [(len(items) + 2, len(items) + 2)]
    assert count(db, "title_translated = '' OR lead = '' OR model = ''") == 0


def _has_articles(db: Path | str) -> bool:
    if isinstance(db, Path) and not db.exists():
        return False
    try:
        return count(db) > 0
    except Exception as exc:  # the schema is not there yet (psycopg's errors once imported)
        if isinstance(exc, (StoreError, *database_errors())):
            return False
        raise

