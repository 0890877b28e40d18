"""Storage faults: a busy database, a full disk, and online backups."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.arabic_samples import register_site
from support.bot_harness import READER, BotSite, article_variants, running_bot

from bot.cli import main
from bot.errors import StoreError
from bot.pipeline import refresh
from bot.store import Store, base
from bot.telegram.schedule import run_refresh
from bot.telegram.services import Services


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process-like writer that keeps the database locked for a while."""
    ready = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait()
    return thread


def test_busy_database_is_retried_with_backoff(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    store = Store(path, busy_timeout_ms=50)
    holder = hold_write_lock(path, 0.8)
    started = time.monotonic()
    store.put_translations("m", {"جملة": "a sentence"})  # waits, retries, then succeeds
    assert time.monotonic() - started >= 0.5
    holder.join()
    assert store.get_translations("m", ["جملة"]) == {"جملة": "a sentence"}


def test_database_locked_for_too_long_is_a_store_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "LOCK_RETRY_DELAYS", (0.05, 0.05))
    path = tmp_path / "n.db"
    store = Store(path, busy_timeout_ms=20)
    holder = hold_write_lock(path, 1.0)
    with pytest.raises(StoreError, match="locked"):
        store.put_translations("m", {"a": "b"})
    holder.join()
    store.put_translations("m", {"a": "b"})  # and the store still works afterwards
    assert store.integrity_check() == "ok"


def test_disk_full_fails_the_refresh_cleanly_and_the_bot_keeps_answering(site: BotSite) -> None:
    async def scenario() -> None:
        async with running_bot(site) as app:
            svc: Services = app.bot_data["nashra"]
            before = svc.store.count_articles()
            register_site(site.feeds, article_variants(2), kind="content")  # new stories
            pages = svc.store._db.execute("PRAGMA page_count").fetchone()[0]
            svc.store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
            await run_refresh(svc)
            report = svc.last_report
            assert report is not None
            assert report.feeds[0].error == "store: database or disk is full"
            assert svc.store.count_articles() == before
            assert svc.store.integrity_check() == "ok"
            tg = site.telegram
            tg.push_message(READER, "/search في")
            answer = await tg.wait_for_messages_async(READER, 1)
            assert "results 1–" in answer[0]["text"]
            svc.store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
            await refresh(svc.settings, svc.store, svc.fetcher, svc.translator, force=True)
            assert svc.store.count_articles() == before + 14  # nothing was lost

    asyncio.run(scenario())


def test_backup_is_a_consistent_standalone_copy(site: BotSite, tmp_path: Path) -> None:
    destination = tmp_path / "backups" / "nashra-copy.db"
    destination.parent.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(site.config), "backup", str(destination)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Backed up 7 articles to {destination} (integrity: ok)"
    copy = sqlite3.connect(destination)
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert copy.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 7
    assert copy.execute("SELECT COUNT(*) FROM search_index WHERE search_index MATCH 'في'"
                        ).fetchone()[0] > 0
    copy.execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')")
    again = runner.invoke(main, ["--config", str(site.config), "backup", str(destination)])
    assert again.exit_code == 1 and "exists; use --force" in again.stderr
    forced = runner.invoke(main, ["--config", str(site.config), "backup", "--force",
                                  str(destination)])
    assert forced.exit_code == 0
    assert not list(destination.parent.glob("*.partial"))


def test_backup_while_another_process_writes(site: BotSite, tmp_path: Path) -> None:
    writer_done = threading.Event()

    def write_constantly() -> None:
        with Store(site.settings.database_path) as store:
            for n in range(300):
                store.put_translations("soak", {f"جملة {n}": f"sentence {n}"})
        writer_done.set()

    thread = threading.Thread(target=write_constantly)
    thread.start()
    destination = tmp_path / "live.db"
    result = CliRunner().invoke(main, ["--config", str(site.config), "backup", str(destination)])
    thread.join()
    assert writer_done.is_set()
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(destination)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cached = copy.execute("SELECT COUNT(*) FROM translation_cache WHERE model = 'soak'")
    assert 0 <= cached.fetchone()[0] <= 300
