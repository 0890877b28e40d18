"""/search in the running bot: searches run in a worker thread on the read-only connection,
so a slow search never keeps the bot from answering other updates."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest
from support.bot_harness import READER, BotSite, button_data, running_bot, say

from bot.query import Query
from bot.store import Store, StoredArticle
from bot.store.search import Match, SearchReader, SearchScope


class GatedReader:
    """The store's reader, but ranking waits until the test opens the gate."""

    def __init__(self, inner: SearchReader, gate: threading.Event,
                 entered: threading.Event, threads: list[threading.Thread]) -> None:
        self._inner, self._gate, self._entered, self._threads = inner, gate, entered, threads

    def search_sources(self, names: Sequence[str]) -> tuple[int, ...]:
        return self._inner.search_sources(names)

    def search_exists(self, query: Query, scope: SearchScope, *,
                      any_term: bool = False) -> bool:
        return self._inner.search_exists(query, scope, any_term=any_term)

    def search_ranked(self, query: Query, scope: SearchScope, *, limit: int, offset: int = 0,
                      now: datetime, any_term: bool = False) -> list[Match]:
        self._threads.append(threading.current_thread())
        self._entered.set()
        assert self._gate.wait(timeout=30), "the test never opened the gate"
        return self._inner.search_ranked(query, scope, limit=limit, offset=offset, now=now,
                                         any_term=any_term)

    def search_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        return self._inner.search_articles(ids)

    def story_outlets(self, story_ids: Sequence[int]) -> dict[int, int]:
        return self._inner.story_outlets(story_ids)


def test_a_held_search_does_not_stop_other_updates(
        site: BotSite, monkeypatch: pytest.MonkeyPatch) -> None:
    gate, entered = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    real_reader = Store.reader
    monkeypatch.setattr(Store, "reader",
                        lambda store: GatedReader(real_reader(store), gate, entered, threads))
    tg = site.telegram

    def results(text: str) -> list[dict[str, Any]]:
        return [m for m in tg.sent(READER) if text in m["text"]]

    def next_page_shown() -> bool:
        return "results 6–" in (tg.message(READER, first["message_id"]) or {})["text"]

    async def held(action: str, done: Callable[[], object]) -> None:
        """While the search is held in its thread, /start is answered; then release it."""
        assert await asyncio.to_thread(entered.wait, 10), f"{action} never reached the store"
        started = await say(tg, "/start")
        assert started["text"].startswith("Nashra")
        assert not done(), f"{action} answered while held"
        entered.clear()
        gate.set()
        await tg.wait_for_async(done, message=f"{action} answered once released")
        gate.clear()

    first: dict[str, Any] = {}

    async def scenario() -> None:
        async with running_bot(site):
            try:
                tg.push_message(READER, "/search في")
                await held("/search", lambda: results("results 1–5"))
                first.update(results("results 1–5")[0])
                tg.push_callback(READER, first["message_id"], button_data(first, "Next"))
                await held("Next", next_page_shown)
            finally:
                gate.set()

    asyncio.run(scenario())
    assert len(threads) == 2
    assert all(t is not threading.main_thread() for t in threads)


def test_the_read_connection_cannot_write(site: BotSite) -> None:
    with site.store() as store, store.read_connection().use() as db:
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] > 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("DELETE FROM articles")
