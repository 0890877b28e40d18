"""`nashra worker` processes sharing one PostgreSQL database, as real processes
(`python -m bot --config CONFIG worker`), on 200 loopback feeds and the synthetic model.

Two workers started together share the feeds: every article is stored once, every feed
fetched, both did part of the work and every sentence was translated once (the sentences of
all articles are distinct, so the summaries' "sentences translated" add up to the rows of
the translation cache). A worker killed with SIGKILL in the middle of a translation window
is taken over, at once by a worker on the same machine (its pid is gone) or, for a worker
whose name says nothing of its pid (``--name``), when its leases pass; nothing is lost and
nothing the dead worker had translated is translated again.

Waits poll the database (a deadline only turns a hang into a failure); a window is held
open by locking the articles table from the test, never by a sleep.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.arabic_samples import (
    ARTICLES,
    SampleArticle,
    article_url,
    rss_with_content_encoded,
)
from support.feed_server import FeedServer

from bot import refresh_windows, textnorm
from bot.cli import ensure_model
from bot.config import DATABASE_URL_ENV, load_settings
from bot.store.base import to_db_time

FEEDS = 200
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
DEADLINE = 120.0   # seconds before a wait counts as a hang
SUMMARY = re.compile(
    r"worker (?P<name>\S+) stopped: (?P<feeds>\d+) feeds refreshed in (?P<turns>\d+) turns, "
    r"(?P<articles>\d+) articles stored, (?P<failures>\d+) feed failures, "
    r"(?P<translated>\d+) sentences translated, (?P<cached>\d+) from cache")
# Who said it: each paragraph of each article ends with its own attribution and number, so
# that no sentence is shared by two articles (the titles carry the article's number).
ATTRIBUTIONS = (
    "بحسب ما أفاد مراسلنا في تقريره رقم",
    "وفق ما نقلته مصادر مطلعة في البيان رقم",
    "كما جاء في النشرة المسائية رقم",
    "بحسب ما ورد في الإحاطة الصحفية رقم",
    "وفق ما أوردته وكالة الأنباء في خبرها رقم",
)


# -- the site: 200 feeds of 2 or 3 articles, every sentence distinct -------------------------

def story(number: int) -> SampleArticle:
    """Article ``number``: a sample story with its own title, link and sentences."""
    base = ARTICLES[number % len(ARTICLES)]
    paragraphs = tuple(
        f"{text.removesuffix('.')}، {ATTRIBUTIONS[(number + n) % len(ATTRIBUTIONS)]} "
        f"{number * 10 + n}." for n, text in enumerate(base.paragraphs))
    return dataclasses.replace(base, slug=f"{base.slug}-{number}",
                               title=f"{base.title} ({number})", paragraphs=paragraphs)


def sentences(title: str, text: str) -> list[str]:
    """The sentences the translator sends to the model for an article (as cache keys)."""
    splitter = textnorm.SentenceSplitter(None)   # the synthetic package has no SBD model
    found = []
    for part in (title, text):
        for paragraph in textnorm.split_paragraphs(part):
            found += [s for s in map(textnorm.normalize_sentence, splitter.split(paragraph)) if s]
    return found


@dataclass
class Site:
    config: Path
    url: str
    logs: Path
    articles: dict[str, list[str]]   # canonical URL -> its sentences
    feeds: dict[str, list[str]]      # feed URL -> its articles' canonical URLs

    @property
    def expected(self) -> int:
        return len(self.articles)

    def all_sentences(self) -> set[str]:
        return {s for found in self.articles.values() for s in found}


def make_site(tmp_path: Path, feed_server: FeedServer, argos_package: Path, url: str, *,
              lease_seconds: int) -> Site:
    base_url = feed_server.base_url
    lines = ["[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"', f'url = "{url}"',
             "[translation]", f'model = "{argos_package}"', "threads = 1",
             "[fetch]", "concurrency = 4", "interval_minutes = 60",
             f"lease_seconds = {lease_seconds}", "timeout_seconds = 5"]
    articles: dict[str, list[str]] = {}
    feeds: dict[str, list[str]] = {}
    number = 0
    for feed in range(FEEDS):
        items = []
        for _ in range(2 + feed % 2):
            items.append(story(number))
            number += 1
        feed_url = feed_server.add(f"/feeds/{feed}.xml",
                                   rss_with_content_encoded(items, base_url), headers=RSS)
        lines += ["[[feeds]]", f'url = "{feed_url}"', f'name = "الوكالة {feed}"']
        for item in items:
            link = article_url(item, base_url)
            articles[link] = sentences(item.title, item.text)
            feeds.setdefault(feed_url, []).append(link)
    every = [s for found in articles.values() for s in found]
    assert len(every) == len(set(every)), "the generated sentences must all be distinct"
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Installed before the workers start: two processes installing one .argosmodel into
    # one models folder at the same moment can break each other's install (not what these
    # tests are about). The schema, on the other hand, is left to the workers to create.
    ensure_model(load_settings(str(config)))
    logs = tmp_path / "logs"
    logs.mkdir()
    return Site(config, url, logs, articles, feeds)


# -- worker processes --------------------------------------------------------------------------

@dataclass
class Worker:
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> None:
        assert self.process.poll() is None, f"worker exited early:\n{self.output()[-4000:]}"

    def stop(self) -> dict[str, Any]:
        """SIGTERM, and the summary line it prints when it stops."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=DEADLINE) == 0, self.output()[-4000:]
        found = [m.groupdict() for m in SUMMARY.finditer(self.output())]
        assert len(found) == 1, self.output()[-4000:]
        return {key: value if key == "name" else int(value) for key, value in found[0].items()}

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE)


@contextmanager
def workers(site: Site) -> Iterator[Callable[..., Worker]]:
    """Start workers with ``start(name, log_name)`` (name None: the default, host:pid:random);
    any still running at the end is killed. Output goes to files (a pipe nobody reads could
    block a worker)."""
    env = {key: value for key, value in os.environ.items() if key != DATABASE_URL_ENV}
    with ExitStack() as stack:
        started: list[Worker] = []

        def start(name: str | None, log_name: str) -> Worker:
            log = site.logs / f"{log_name}.log"
            sink = stack.enter_context(log.open("w", encoding="utf-8"))
            named = ["--name", name] if name else []
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(site.config), "worker", *named],
                env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
            started.append(Worker(process, log))
            return started[-1]

        try:
            yield start
        finally:
            for worker in started:
                if worker.process.poll() is None:
                    worker.kill()


def wait_until(condition: Callable[[], bool], what: str, alive: Sequence[Worker],
               state: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for worker in alive:
            worker.alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}; {state()}"
        time.sleep(0.05)


# -- the database, read as another process would -----------------------------------------------

def rows(url: str, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(sql, params).fetchall()


def scalar(url: str, sql: str, params: Sequence[object] = ()) -> int:
    return int(rows(url, sql, params)[0][0])


def stored_urls(url: str) -> list[str]:
    return [str(row[0]) for row in rows(url, "SELECT canonical_url FROM articles")]


def cached_sources(url: str) -> list[str]:
    return [str(row[0]) for row in rows(url, "SELECT source FROM translation_cache")]


def schema_ready(url: str) -> bool:
    """The workers create the schema (once, under an advisory lock, in one transaction)."""
    return rows(url, "SELECT to_regclass('articles') IS NOT NULL") == [(True,)]


def progress(site: Site) -> str:
    """What the database holds, for a failure message."""
    if not schema_ready(site.url):
        return "no schema"
    articles = scalar(site.url, "SELECT COUNT(*) FROM articles")
    feeds = rows(site.url, "SELECT COUNT(*) - COUNT(last_fetched), SUM(error_count), "
                           "MIN(last_error) FROM feeds")
    leases = rows(site.url, "SELECT lease_owner, COUNT(*), MIN(lease_until), "
                            "COUNT(*) - COUNT(last_fetched) FROM feeds "
                            "WHERE lease_owner IS NOT NULL GROUP BY lease_owner")
    return (f"{articles} of {site.expected} articles stored; feeds (unfetched, errors, an "
            f"error): {feeds}; leases (owner, feeds, until, unfetched): {leases}")


def all_done(site: Site, dead: str = "") -> bool:
    """Every article stored, every feed recorded and no lease held (but by the ``dead``
    worker): the workers are idle."""
    if not schema_ready(site.url):
        return False
    return rows(site.url, "SELECT (SELECT COUNT(*) FROM articles), "
                          "(SELECT COUNT(*) FROM feeds WHERE last_fetched IS NULL), "
                          "(SELECT COUNT(*) FROM feeds WHERE lease_owner <> %s)", (dead,)
                ) == [(site.expected, 0, 0)]


def assert_everything_stored_once(site: Site, dead: str = "") -> None:
    urls = stored_urls(site.url)
    assert len(urls) == len(set(urls)) == site.expected
    assert set(urls) == set(site.articles)
    assert rows(site.url, "SELECT COUNT(*), COUNT(last_fetched), SUM(error_count) "
                          "FROM feeds") == [(FEEDS, FEEDS, 0)]
    assert scalar(site.url, "SELECT COUNT(*) FROM feeds WHERE lease_owner <> %s",
                  (dead,)) == 0
    assert scalar(site.url, "SELECT COUNT(*) FROM articles WHERE untranslated <> 0 "
                            "OR title_translated = '' OR lead = '' OR model = ''") == 0
    # Each sentence translated and cached once: the cache holds exactly the articles'.
    cached = cached_sources(site.url)
    assert len(cached) == len(set(cached))
    assert set(cached) == site.all_sentences()


def test_two_workers_share_the_feeds_and_translate_each_sentence_once(
        feed_server: FeedServer, argos_package: Path, postgres_url: str,
        tmp_path: Path) -> None:
    site = make_site(tmp_path, feed_server, argos_package, postgres_url, lease_seconds=5)
    with workers(site) as start:
        both = [start("w1", "w1"), start("w2", "w2")]
        wait_until(lambda: all_done(site), "every article stored and every lease released",
                   both, lambda: progress(site))
        summaries = [worker.stop() for worker in both]
    assert [s["name"] for s in summaries] == ["w1", "w2"]
    assert_everything_stored_once(site)
    # Both took part; together they refreshed each feed once and stored each article once.
    assert all(s["feeds"] > 0 for s in summaries), summaries
    assert sum(s["feeds"] for s in summaries) == FEEDS
    assert sum(s["articles"] for s in summaries) == site.expected
    assert sum(s["failures"] for s in summaries) == 0
    assert sum(s["cached"] for s in summaries) == 0
    cache_rows = scalar(site.url, "SELECT COUNT(*) FROM translation_cache")
    assert sum(s["translated"] for s in summaries) == cache_rows == len(site.all_sentences())
    # Full content in the feeds: no article page was asked for.
    assert {r.path for r in feed_server.requests} <= {f"/feeds/{n}.xml" for n in range(FEEDS)}


# -- kill -9 in the middle of a translation window -----------------------------------------

@dataclass(frozen=True)
class Killed:
    stored: set[str]               # canonical URLs stored before the kill
    cached: set[str]               # sentences in the cache at the kill
    leases: dict[int, str]         # feed id -> lease_until of the feeds it was still on
    fetched: int                   # feeds refreshed before the kill
    held: set[str]                 # URLs of the feeds of the turn it was killed in

    def translated_unstored(self, site: Site) -> set[str]:
        stored = {s for url in self.stored for s in site.articles[url]}
        return self.cached - stored


def window_in_progress(site: Site, db: psycopg.Connection[Any], at_least: int = 1) -> bool:
    """At least ``at_least`` articles stored, and sentences translated and cached whose
    articles are not stored yet: the worker is between translating a window and storing
    all of it (read in one snapshot)."""
    if not schema_ready(site.url):
        return False
    with db.transaction():
        cached = db.execute("SELECT COUNT(*) FROM translation_cache").fetchone()
        urls = db.execute("SELECT canonical_url FROM articles").fetchall()
    assert cached is not None
    return at_least <= len(urls) < site.expected and int(cached[0]) > sum(
        len(site.articles[str(row[0])]) for row in urls)


def blocked_on_a_lock(url: str) -> bool:
    return scalar(url, "SELECT COUNT(*) FROM pg_stat_activity "
                       "WHERE wait_event_type = 'Lock' AND datname = current_database()") > 0


def kill_in_a_window(site: Site, worker: Worker) -> Killed:
    """SIGKILL ``worker`` while it stores a translated window, a few turns into its work: the
    articles table is locked (reads still go through) once a window is translated; if the
    worker was caught between windows instead, the lock is lifted and the next window
    tried."""
    at_least = site.expected // 5
    with psycopg.connect(site.url, autocommit=True) as snapshots, \
            psycopg.connect(site.url) as locker:
        snapshots.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        while True:
            wait_until(lambda: window_in_progress(site, snapshots, at_least),
                       "a window being stored", [worker], lambda: progress(site))
            locker.execute("LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE")
            wait_until(lambda: blocked_on_a_lock(site.url), "the worker to wait for the lock",
                       [worker])
            if window_in_progress(site, snapshots):
                break
            locker.rollback()   # it had stored the whole window: catch the next one
        worker.kill()
        locker.rollback()
    leases = rows(site.url, "SELECT id, lease_until FROM feeds "
                            "WHERE lease_owner IS NOT NULL AND last_fetched IS NULL")
    return Killed(set(stored_urls(site.url)), set(cached_sources(site.url)),
                  {int(feed): str(until) for feed, until in leases},
                  scalar(site.url, "SELECT COUNT(last_fetched) FROM feeds"),
                  {str(row[0]) for row in rows(site.url, "SELECT url FROM feeds "
                                                         "WHERE lease_owner IS NOT NULL")})


@pytest.mark.parametrize("takeover", ["at-once", "when-the-lease-passes"])
def test_a_worker_killed_in_a_window_is_taken_over_and_nothing_is_lost(
        takeover: str, feed_server: FeedServer, argos_package: Path, postgres_url: str,
        tmp_path: Path) -> None:
    """At once: w1 has the default name (host:pid:random) and a lease far longer than the
    test, so only w2 seeing w1's pid gone frees its feeds. When the lease passes: w1 is
    ``--name w1`` (no pid to look at), so only its 5 s lease passing does."""
    at_once = takeover == "at-once"
    site = make_site(tmp_path, feed_server, argos_package, postgres_url,
                     lease_seconds=600 if at_once else 5)
    with workers(site) as start:
        w1 = start(None if at_once else "w1", "w1")
        killed = kill_in_a_window(site, w1)
        assert site.expected // 5 <= len(killed.stored) < site.expected
        assert killed.leases, "w1 was killed in the middle of a turn: it held feeds"
        unstored = killed.translated_unstored(site)
        # The window being stored when w1 died: translated, some of it not stored yet, all
        # of it from the feeds of that turn and no more than one window's worth.
        assert unstored
        turn = {s for feed in killed.held for url in site.feeds[feed]
                for s in site.articles[url]}
        assert unstored <= turn
        assert sum(map(len, unstored)) <= refresh_windows.WINDOW_CHARS
        owners = rows(site.url, "SELECT DISTINCT lease_owner FROM feeds "
                                "WHERE lease_owner IS NOT NULL")
        assert len(owners) == 1
        w1_name = str(owners[0][0])
        if at_once:
            assert w1_name.split(":")[1] == str(w1.process.pid)
        else:
            assert w1_name == "w1"

        w2 = start("w2", "w2")
        wait_until(lambda: all_done(site, w1_name), "w2 to finish w1's work", [w2],
                   lambda: progress(site))
        summary = w2.stop()
    assert_everything_stored_once(site, w1_name)
    assert summary["articles"] == site.expected - len(killed.stored)
    assert summary["feeds"] == FEEDS - killed.fetched and summary["failures"] == 0
    # Nothing w1 had translated is translated again: w2 translated exactly the sentences
    # missing from the cache, and found the dead window's there.
    assert summary["translated"] == len(site.all_sentences()) - len(killed.cached)
    assert summary["cached"] == len(unstored)
    # How w1's feeds were taken over: before the lease passed (at once), or after.
    fetched = dict(rows(site.url, "SELECT id, last_fetched FROM feeds"))
    for feed, until in killed.leases.items():
        assert (str(fetched[feed]) < until) if at_once else (str(fetched[feed]) >= until)
    given_back = f"of {w1_name}, which is no longer running, given back" in w2.output()
    assert given_back == at_once
    # Left to pass: the leases of the feeds w1 had finished when it died (not due again
    # for an hour, nobody claims them before); at once, w2 gave them all back.
    left = rows(site.url, "SELECT COUNT(*), COUNT(last_fetched), COALESCE(MAX(lease_until) "
                          "< %s, TRUE) FROM feeds WHERE lease_owner = %s",
                (to_db_time(datetime.now(UTC)), w1_name))
    leased, finished, passed = left[0]
    if at_once:
        assert leased == 0
    else:
        assert leased == finished and passed
