"""The search index's tidy: its pieces merged into one, search unchanged, other writers let
in between its transactions; from the command line and as the bot's daily job."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from click.testing import CliRunner
from test_store import FEEDS, NOW, make_article

from bot.cli import main
from bot.errors import StoreError
from bot.search import search
from bot.store import Store
from bot.store.index import tidy_index
from bot.telegram.schedule import run_tidy


def pieces(path: Path) -> int:
    """Segments in the FTS5 structure record: 4-byte cookie, then levels and segments
    (varints below 128 here, one byte each)."""
    db = sqlite3.connect(path)
    try:
        block = db.execute("SELECT block FROM search_index_data WHERE id = 10").fetchone()[0]
    finally:
        db.close()
    return int(block[5])


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Articles stored a few at a time, as refreshes store them: one piece each."""
    path = tmp_path / "n.db"
    with Store(path) as store:
        feed = store.sync_feeds(FEEDS, NOW)[0].id
        for batch in range(12):
            store.insert_articles([
                make_article(feed, 10 * batch + n, title_translated=f"Wheat report {batch} {n}")
                for n in range(3)])
    return path


def found(path: Path, query: str) -> list[int]:
    with Store(path) as store:
        return [hit.article.id for hit in search(store.reader(), query, limit=50, now=NOW).hits]


def test_tidy_merges_the_pieces_and_search_finds_the_same(archive: Path) -> None:
    before = {query: found(archive, query) for query in ("wheat", "report 7", "النفط")}
    assert pieces(archive) > 1
    assert tidy_index(archive, pages=4) >= 1
    assert pieces(archive) == 1
    assert tidy_index(archive) == 0             # nothing left to merge
    assert {query: found(archive, query) for query in before} == before
    with Store(archive) as store:
        store._db.execute("INSERT INTO search_index (search_index, rank) "
                          "VALUES ('integrity-check', 1)")


def test_tidy_waits_for_the_write_lock_and_fails_as_a_store_error(archive: Path) -> None:
    writer = sqlite3.connect(archive, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")       # another writer in the middle of a transaction
    with pytest.raises(StoreError, match="tidying the search index failed: database is locked"):
        tidy_index(archive, busy_timeout_ms=0)
    writer.execute("COMMIT")
    writer.close()
    assert tidy_index(archive, busy_timeout_ms=0) >= 1


def test_nashra_tidy_command(archive: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{archive}"\n', encoding="utf-8")
    first = CliRunner().invoke(main, ["--config", str(config), "tidy"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("Search index merged in ")
    again = CliRunner().invoke(main, ["--config", str(config), "tidy"])
    assert again.stdout == "Search index already in one piece\n"


def test_the_bot_job_logs_a_failure_and_goes_on(
        archive: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = cast(Any, SimpleNamespace(store=SimpleNamespace(path=archive)))
    assert asyncio.run(run_tidy(svc)) >= 1
    svc.store.path = archive.parent / "missing" / "n.db"
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(run_tidy(svc)) == 0
    assert "search index not tidied" in caplog.text


def test_nashra_tidy_vacuum_gives_free_pages_back(archive: Path, tmp_path: Path) -> None:
    with Store(archive) as store:
        store._db.execute("CREATE TABLE ballast (x BLOB)")
        store._db.execute("INSERT INTO ballast VALUES (zeroblob(2000000))")
        store._db.execute("DROP TABLE ballast")
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = archive.stat().st_size
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{archive}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "tidy", "--vacuum"])
    assert result.exit_code == 0, result.output
    assert "Database file" in result.stdout
    assert archive.stat().st_size < size - 1_000_000
    assert found(archive, "wheat")
