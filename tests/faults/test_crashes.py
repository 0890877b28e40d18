"""kill -9 at any point of a refresh or of the bot, then restart: nothing half-stored,
nothing lost, nothing sent twice, and the schedule goes on."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.arabic_samples import (
    ARTICLES,
    SampleArticle,
    article_page_html,
    article_path,
    summary_only_rss,
)
from support.bot_harness import READER, BotSite, bot_process
from support.feed_server import FeedServer

from bot.telegram.schedule import TICK_ENV

VARIANTS = 6


def unique_stories() -> list[SampleArticle]:
    """Distinct stories (own sentences too, so every refresh has real translation work)."""
    stories = []
    for n in range(VARIANTS):
        for a in ARTICLES:
            extra = f"وأوضح التقرير رقم {n} أن الجهات المعنية تتابع {a.category} باهتمام."
            stories.append(dataclasses.replace(
                a, slug=f"{a.slug}-{n}", title=f"{a.title} ({n})",
                paragraphs=tuple(f"{p} {extra}" for p in a.paragraphs)))
    return stories


def serve_slow_site(server: FeedServer, stories: list[SampleArticle]) -> str:
    """A summary-only feed whose pages each take a moment, so a refresh has a long fetch."""
    for story in stories:
        server.add_delay(article_path(story), 0.05, article_page_html(story).encode(),
                         headers={"Content-Type": "text/html; charset=utf-8"})
    return server.add("/slow-feed.xml", summary_only_rss(stories, server.base_url),
                      headers={"Content-Type": "application/rss+xml"})


def write_config(folder: Path, feed: str, model: Path) -> Path:
    config = folder / "config.toml"
    config.write_text("\n".join([
        "[storage]", f'path = "{folder / "nashra.db"}"',
        "[translation]", f'model = "{model}"', "threads = 1",
        "[fetch]", "max_entries = 100", "min_text_chars = 300", "per_host = 2",
        "[[feeds]]", f'url = "{feed}"', 'name = "slow"',
    ]) + "\n", encoding="utf-8")
    return config


def fetch_process(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "fetch",
                             "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def check_database(path: Path) -> int:
    """Integrity, and every stored article complete; returns how many there are."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'").fetchone():
            return 0
        incomplete = db.execute(
            "SELECT COUNT(*) FROM articles WHERE title_translated = '' OR text_translated = ''"
            " OR lead = '' OR model = ''").fetchone()[0]
        assert incomplete == 0
        db.execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')")
        indexed = [row[0] for row in db.execute("SELECT rowid FROM search_index ORDER BY rowid")]
        stored = [row[0] for row in db.execute("SELECT id FROM articles ORDER BY id")]
        assert indexed == stored
        return len(stored)
    finally:
        db.close()


def test_kill_9_at_any_point_of_a_refresh(tmp_path: Path, feed_server: FeedServer,
                                          argos_package: Path) -> None:
    stories = unique_stories()
    feed = serve_slow_site(feed_server, stories)
    reference = tmp_path / "reference"
    reference.mkdir()
    started = time.monotonic()
    done = fetch_process(write_config(reference, feed, argos_package))
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""
    duration = time.monotonic() - started
    assert check_database(reference / "nashra.db") == len(stories)

    victim = tmp_path / "victim"
    victim.mkdir()
    config = write_config(victim, feed, argos_package)
    stored_before = 0
    for fraction in (0.15, 0.35, 0.55, 0.75, 0.9):  # during start, fetch, translation, writes
        process = fetch_process(config)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stored = check_database(victim / "nashra.db")
        assert stored >= stored_before  # what was stored stays stored
        stored_before = stored
    final = fetch_process(config)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert check_database(victim / "nashra.db") == len(stories)
    again = fetch_process(config)
    out, err = again.communicate(timeout=300)
    assert "sentences translated: 0" in out
    assert out.splitlines()[-1].startswith("0 new articles")


def test_schedule_survives_kill_9(site: BotSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TICK_ENV, "0.5")  # the bot process ticks often (30 s by default)
    tg = site.telegram
    at = (datetime.now(UTC) + timedelta(seconds=12)).strftime("%H:%M:%S")
    with bot_process(site) as first:
        tg.push_message(READER, "/subscribe")
        tg.push_message(READER, f"/settings times {at}")
        tg.wait_for(lambda: any(at in m["text"] for m in tg.sent(READER)), timeout=30)
        first.send_signal(signal.SIGKILL)
    confirmations = len(tg.sent(READER))
    with bot_process(site):
        messages = tg.wait_for_messages(READER, confirmations + 1, timeout=40)
        assert messages[confirmations]["text"].startswith("Nashra digest")
        time.sleep(1)
        assert len(tg.sent(READER)) == confirmations + 1
