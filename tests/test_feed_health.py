"""A feed's life cycle: failing for ``fetch.pause_after_days`` pauses it and tells the admins
once (with its last error); paused feeds are probed once a day, by the single-process refresh
and by worker claims alike; a probe that answers resumes the feed and says so; /resumefeed
resumes one at once. Real refreshes on loopback feeds with an injected clock (no sleeping),
on both store engines; the notices go through the outbox and the real bot delivers them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.arabic_samples import ARTICLES, register_site, rss_with_content_encoded
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    button_data,
    make_bot_site,
    postgres_url_of,
    press,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.cli import ensure_model
from bot.config import DigestSettings, Settings, load_settings
from bot.feed_health import PROBE_EVERY, alert_chats, pause_due, pause_text
from bot.feed_leases import FeedClaim
from bot.fetch import Fetcher, FetchSettings
from bot.models import FeedState
from bot.pipeline import RefreshReport, refresh
from bot.store import Store
from bot.store.feedhealth import Notice
from bot.telegram.schedule import TICK_ENV
from bot.translate import EngineSettings, Translator

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
DEAD = "/dead.xml"
ADMINS = (4401, 4402)
ADMIN_CHAT = -1005550001


@dataclass
class Site:
    settings: Settings
    feeds: FeedServer
    dead_url: str
    good_url: str


def write_site(tmp_path: Path, feeds: FeedServer, model: Path, store_location: Path | str,
               *telegram: str) -> Site:
    good = register_site(feeds, ARTICLES)
    dead = feeds.add(DEAD, b"<h1>Internal error</h1>", status=500)
    lines = ["[telegram]", *(telegram or (f"admins = [{', '.join(map(str, ADMINS))}]",)),
             "[storage]", f'path = "{tmp_path / "nashra.db"}"',
             f'url = "{postgres_url_of(store_location)}"',
             "[translation]", f'model = "{model}"', "threads = 1",
             "[fetch]", "timeout_seconds = 10", "pause_after_days = 3",
             "[[feeds]]", f'url = "{good}"', 'name = "وكالة الأنباء"',
             "[[feeds]]", f'url = "{dead}"', 'name = "صحيفة <المساء>"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Site(load_settings(str(config), environ={}), feeds, dead, good)


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer, argos_package: Path,
         store_location: Path | str) -> Site:
    return write_site(tmp_path, feed_server, argos_package, store_location)


@contextmanager
def opened(settings: Settings) -> Iterator[tuple[Store, Translator]]:
    with Store(settings.database) as store:
        translator = Translator(ensure_model(settings), EngineSettings(threads=1), store)
        try:
            yield store, translator
        finally:
            translator.close()


async def refresh_at(settings: Settings, store: Store, translator: Translator, now: datetime,
                     owner: str = "test") -> RefreshReport:
    async with Fetcher(FetchSettings(timeout_seconds=10)) as fetcher:
        return await refresh(settings, store, fetcher, translator, now=now,
                             claim=FeedClaim(owner=owner))


def dead_feed(store: Store, site: Site) -> FeedState:
    return next(feed for feed in store.feeds() if feed.url == site.dead_url)


def notices(store: Store) -> list[tuple[int, str]]:
    return [(m.chat_id, m.text) for m in store.outbox_messages() if m.kind == "notice"]


def probes(site: Site) -> int:
    return len(site.feeds.requests_for(DEAD))


def test_a_dead_feed_is_paused_once_probed_daily_and_resumes_by_itself(site: Site) -> None:
    settings = site.settings
    with opened(settings) as (store, translator):
        def at(moment: datetime) -> RefreshReport:
            return asyncio.run(refresh_at(settings, store, translator, moment))

        first = at(T0)
        assert first.new_articles == len(ARTICLES) and first.failed_feeds == 1
        assert dead_feed(store, site).failing_since == T0
        for day in (1, 2):
            at(T0 + timedelta(days=day))
            feed = dead_feed(store, site)
            assert feed.failing_since == T0 and feed.paused_at is None
            assert feed.error_count == day + 1
        assert notices(store) == []

        paused_at = T0 + timedelta(days=3, minutes=5)
        at(paused_at)
        feed = dead_feed(store, site)
        assert feed.paused_at == paused_at and feed.next_check == paused_at + PROBE_EVERY
        sent = notices(store)
        assert sorted(chat for chat, _ in sent) == sorted(ADMINS)
        text = sent[0][1]
        # Name (escaped for HTML), URL and the last error, once per admin.
        assert "صحيفة &lt;المساء&gt;" in text and site.dead_url in text
        assert "HTTP 500" in text and feed.last_error and "HTTP 500" in feed.last_error
        good = next(f for f in store.feeds() if f.url == site.good_url)
        assert good.paused_at is None and good.failing_since is None

        # Paused: not fetched at the usual interval, only once a day; no second notice.
        asked = probes(site)
        for hours in (1, 6, 23):
            report = at(paused_at + timedelta(hours=hours))
            assert next(r for r in report.feeds if r.url == site.dead_url).postponed_until
        assert probes(site) == asked
        at(paused_at + PROBE_EVERY)
        assert probes(site) == asked + 1
        feed = dead_feed(store, site)
        assert feed.paused_at == paused_at
        assert feed.next_check == paused_at + 2 * PROBE_EVERY
        assert len(notices(store)) == len(ADMINS)

        # The feed answers again: the next daily probe resumes it and says so.
        site.feeds.add(DEAD, rss_with_content_encoded(ARTICLES[:2], site.feeds.base_url),
                       headers={"Content-Type": "application/rss+xml; charset=utf-8"})
        at(paused_at + 2 * PROBE_EVERY - timedelta(minutes=1))
        assert dead_feed(store, site).paused_at is not None   # not probed early
        back = paused_at + 2 * PROBE_EVERY
        at(back)
        feed = dead_feed(store, site)
        assert feed.paused_at is None and feed.failing_since is None and feed.error_count == 0
        resumed = notices(store)[len(ADMINS):]
        assert sorted(chat for chat, _ in resumed) == sorted(ADMINS)
        assert all("answers again" in text and site.dead_url in text for _, text in resumed)
        # Fetched at the usual interval again.
        asked = probes(site)
        at(back + timedelta(minutes=settings.fetch.interval_minutes))
        assert probes(site) == asked + 1


def test_two_refreshes_racing_tell_the_admins_once(site: Site) -> None:
    settings = site.settings
    with opened(settings) as (store, translator):
        asyncio.run(refresh_at(settings, store, translator, T0))
        asyncio.run(refresh_at(settings, store, translator, T0 + timedelta(days=2)))
    with opened(settings) as (one, first), opened(settings) as (two, second):
        async def race() -> None:
            moment = T0 + timedelta(days=3)
            await asyncio.gather(refresh_at(settings, one, first, moment, owner="one"),
                                 refresh_at(settings, two, second, moment, owner="two"))
        asyncio.run(race())
        assert sorted(chat for chat, _ in notices(one)) == sorted(ADMINS)
        assert dead_feed(one, site).paused_at == T0 + timedelta(days=3)


def test_the_pause_transition_is_atomic_across_connections(site: Site) -> None:
    """Two processes that both saw the feed fail long enough: one pauses and notifies."""
    with Store(site.settings.database) as store:
        store.sync_feeds(site.settings.feeds, T0)
        feed = dead_feed(store, site)
        store.record_fetch_failure(feed.id, T0, "fetch: HTTP 500", T0 + timedelta(minutes=10))
    moment = T0 + timedelta(days=4)
    start = threading.Barrier(4)
    results: list[bool] = []

    def pause() -> None:
        with Store(site.settings.database) as own:
            start.wait()
            results.append(own.pause_failing_feed(
                feed.id, moment, [Notice(ADMINS[0], "paused")],
                failing_before=moment - timedelta(days=3), probe_at=moment + PROBE_EVERY,
                defaults=DigestSettings()))

    threads = [threading.Thread(target=pause) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    with Store(site.settings.database) as store:
        assert notices(store) == [(ADMINS[0], "paused")]


def test_worker_claims_probe_a_paused_feed_once_a_day(site: Site) -> None:
    """Even with its back-off gone (next_check cleared), a paused feed is not claimed until
    a day after its last probe; other feeds are claimed at the usual interval."""
    with Store(site.settings.database) as store:
        feeds = store.sync_feeds(site.settings.feeds, T0)
        dead = dead_feed(store, site)
        store.record_fetch_failure(dead.id, T0, "fetch: HTTP 500", T0 + timedelta(minutes=10))
        assert store.pause_failing_feed(dead.id, T0, [], failing_before=T0,
                                        probe_at=T0 + PROBE_EVERY, defaults=DigestSettings())
        store.postpone_probe(dead.id, T0 + PROBE_EVERY)
        store._execute_write("UPDATE feeds SET next_check = NULL", {})
        ids = [feed.id for feed in feeds]
        lease = timedelta(minutes=5)
        later = T0 + timedelta(hours=2)
        claimed = store.claim_feeds(ids, "worker-a", later, lease, 10,
                                    fetched_before=later - timedelta(minutes=10))
        assert dead.id not in claimed and claimed
        store.release_owner("worker-a")
        day = T0 + PROBE_EVERY
        assert dead.id in store.claim_feeds(ids, "worker-b", day, lease, 10,
                                            fetched_before=day - timedelta(minutes=10))


def test_notices_go_to_the_admin_chat_when_one_is_set(tmp_path: Path, feed_server: FeedServer,
                                                      argos_package: Path) -> None:
    site = write_site(tmp_path, feed_server, argos_package, tmp_path / "nashra.db",
                      f"admins = [{ADMINS[0]}]", f"admin_chat = {ADMIN_CHAT}")
    assert alert_chats(site.settings) == (ADMIN_CHAT,)
    with opened(site.settings) as (store, translator):
        for day in (0, 3):
            asyncio.run(refresh_at(site.settings, store, translator, T0 + timedelta(days=day)))
        sent = notices(store)
        assert [chat for chat, _ in sent] == [ADMIN_CHAT]
        chat = store.get_chat(ADMIN_CHAT)
        assert chat is not None and not chat.subscribed


def test_policy_edges() -> None:
    feed = FeedState(id=1, url="https://x.example/rss", name="X", failing_since=T0)
    three = timedelta(days=3)
    assert not pause_due(feed, T0 + three - timedelta(seconds=1), three)
    assert pause_due(feed, T0 + three, three)
    assert not pause_due(FeedState(id=1, url="u", name="X", failing_since=T0, paused_at=T0),
                         T0 + 2 * three, three)
    assert not pause_due(FeedState(id=1, url="u", name="X"), T0 + 2 * three, three)
    text = pause_text(feed, "fetch: connection refused & <reset>", 3, "en")
    assert "&amp; &lt;reset&gt;" in text and "3 days" in text
    assert alert_chats(Settings()) == ()


# -- through the real bot -------------------------------------------------------------------

@pytest.fixture
def bot_site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
             argos_package: Path, store_location: Path | str) -> BotSite:
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url_of(store_location))


def pause_first_feed(site: BotSite) -> FeedState:
    """The site's feed failing for days, paused by a refresh elsewhere (a worker, say),
    which queued the notice for the bot to deliver."""
    now = datetime.now(UTC)
    with site.store() as store:
        feed = store.feeds()[0]
        store.record_fetch_failure(feed.id, now - timedelta(days=4), "fetch: HTTP 503",
                                   now + timedelta(hours=1))
        text = pause_text(feed, "fetch: HTTP 503", 3, "en")
        assert store.pause_failing_feed(feed.id, now, [Notice(ADMIN, text)],
                                        failing_before=now - timedelta(days=3),
                                        probe_at=now + PROBE_EVERY, defaults=DigestSettings())
        return feed


def test_the_bot_delivers_the_notice_and_resumefeed_resumes(bot_site: BotSite) -> None:
    site, tg = bot_site, bot_site.telegram
    feed = pause_first_feed(site)

    async def scenario() -> None:
        async with running_bot(site):
            notice = (await tg.wait_for_messages_async(ADMIN, 1))[0]
            assert notice["text"].startswith("⏸ Feed paused: الوكالة التجريبية")
            assert "HTTP 503" in notice["text"] and feed.url in notice["text"]
            refused = await say(tg, "/resumefeed", chat=READER)
            assert refused["text"] == "Sorry, only the bot's administrators can do that."
            stats = await say(tg, "/stats", chat=ADMIN)
            assert "Paused sources: 1" in stats["text"]
            listing = await say(tg, "/resumefeed", chat=ADMIN)
            assert "Paused sources 1–1 of 1" in listing["text"]
            assert "HTTP 503" in listing["text"]
            data = button_data(listing, "الوكالة التجريبية")
            assert data == f"resume:{feed.id}:1"
            answered = await press(tg, ADMIN, listing["message_id"], data)
            assert answered["text"] == "Resumed"
            edited = await tg.wait_for_async(
                lambda: (m := tg.message(ADMIN, listing["message_id"])) and
                "No source is paused." in m["text"] and m, message="the list after resuming")
            assert edited["text"].startswith("Resumed")
            again = await press(tg, ADMIN, listing["message_id"], data, check_button=False)
            assert again["text"] == "That source is not paused any more." and again["show_alert"]
            missing = await say(tg, "/resumefeed 99999", chat=ADMIN)
            assert missing["text"].startswith("No paused source with that id.")

    asyncio.run(scenario())
    with site.store() as store:
        resumed = store.feeds()[0]
        assert resumed.paused_at is None and resumed.next_check is None
        assert resumed.error_count == 0 and resumed.failing_since is None


def test_a_notice_queued_elsewhere_while_the_bot_runs_and_resumefeed_with_an_id(
        bot_site: BotSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker (here: another connection) pauses a feed while the bot runs: the bot's
    outbox picks the notice up at its next tick and delivers it."""
    monkeypatch.setenv(TICK_ENV, "0.5")
    site, tg = bot_site, bot_site.telegram

    async def scenario() -> Any:
        async with running_bot(site):
            assert (await say(tg, "/resumefeed", chat=ADMIN))["text"] == "No source is paused."
            feed = pause_first_feed(site)
            notice = (await tg.wait_for_messages_async(ADMIN, 2))[1]
            assert notice["text"].startswith("⏸ Feed paused: ")
            done = await say(tg, f"/resumefeed {feed.id}", chat=ADMIN)
            assert done["text"].startswith("Resumed") and "next refresh" in done["text"]
            empty = await say(tg, "/resumefeed", chat=ADMIN)
            assert empty["text"] == "No source is paused."

    asyncio.run(scenario())


def test_feeds_list_shows_each_feeds_category_and_whether_it_is_paused() -> None:
    from bot import console
    from bot.models import FeedState

    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    table = console.feeds_table([
        FeedState(1, "https://gulf.example/rss", "الخليج", category="News / Gulf"),
        FeedState(2, "https://gone.example/rss", "Gone", error_count=400,
                  paused_at=now - timedelta(days=2)),
    ], now).splitlines()
    assert table[0].split() == ["Feed", "Category", "URL", "Last", "fetch", "Articles",
                                "Errors", "State"]
    assert "News / Gulf" in table[2] and table[2].rstrip().endswith("active")
    assert "paused 2 days ago" in table[3]
