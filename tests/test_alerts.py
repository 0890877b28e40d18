"""Alerts: matching words (Arabic prefixes, English case), the 10-an-hour budget per chat,
exclude words and sources, and alerted stories counting as sent — on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.offline_services import offline_services

from bot.config import FeedConfig
from bot.digests import ALERTS_PER_HOUR, alert_new_articles, queue_alerts
from bot.models import Article
from bot.selection import ChatFilters, plan_digest
from bot.store import Store
from bot.telegram.services import Services

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CHAT = 6161


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    with Store(tmp_path / "nashra.db") as store:
        store.sync_feeds([FeedConfig("https://a.example/rss", "A"),
                          FeedConfig("https://b.example/rss", "B")], NOW)
        store.ensure_chat(CHAT, "private", "t", times=("08:00",), timezone="UTC",
                          max_items=30, now=NOW)
        yield offline_services(store)


def store_articles(svc: Services, titles: list[str], *, feed: int = 1,
                   start: int = 0) -> list[int]:
    return svc.store.insert_articles([Article(
        feed_id=feed, key=f"k{feed}-{n}", url=f"https://x.example/{feed}/{n}",
        canonical_url=f"https://x.example/{feed}/{n}", published=NOW, fetched=NOW,
        language="ar", title_original=title, text_original="نص الخبر.",
        title_translated=f"Headline {n}", text_translated="Text.", lead="Lead.", model="m")
        for n, title in enumerate(titles, start=start)])


def alerts(svc: Services) -> list[str]:
    return [m.text for m in svc.store.outbox_messages(CHAT) if m.kind == "alert"]


def test_arabic_prefixes_match_and_alerted_stories_are_not_in_the_digest(
        svc: Services) -> None:
    assert svc.store.add_chat_word(CHAT, "alert", "حكومة", NOW)
    ids = store_articles(svc, ["استقالة الحكومة بعد التصويت", "مباراة الليلة",
                               "وزير المالية: للحكومات دور"])
    assert queue_alerts(svc, ids, NOW) == 1  # حكومات (plural) is another word
    [text] = alerts(svc)
    assert "“حكومة”" in text and "/read_1" in text
    chat = svc.store.get_chat(CHAT)
    assert chat is not None
    plan = plan_digest(svc.store, chat, ChatFilters(), now=NOW, max_age=timedelta(hours=48))
    assert sorted(s.id for s in plan.shown) == [2, 3]


def test_at_most_ten_an_hour_the_rest_wait_for_the_digest(svc: Services) -> None:
    svc.store.add_chat_word(CHAT, "alert", "Bank", NOW)
    ids = store_articles(svc, [f"bank news {n}" for n in range(12)])
    assert queue_alerts(svc, ids, NOW) == ALERTS_PER_HOUR == 10
    later = store_articles(svc, ["BANK again"], start=12)
    assert queue_alerts(svc, later, NOW + timedelta(minutes=30)) == 0
    assert queue_alerts(svc, later, NOW + timedelta(minutes=61)) == 1
    chat = svc.store.get_chat(CHAT)
    assert chat is not None
    plan = plan_digest(svc.store, chat, ChatFilters(), now=NOW, max_age=timedelta(hours=48))
    assert len(plan.shown) == 2  # the two over the budget


def test_exclude_words_and_excluded_sources_hold_alerts_back(svc: Services) -> None:
    svc.store.add_chat_word(CHAT, "alert", "oil", NOW)
    svc.store.add_chat_word(CHAT, "exclude", "football", NOW)
    svc.store.set_feed_excluded(CHAT, 2, True)
    ids = store_articles(svc, ["oil and football"])
    ids += store_articles(svc, ["oil prices rise"], feed=2)
    ids += store_articles(svc, ["Oil exports"], start=5)
    assert queue_alerts(svc, ids, NOW) == 1
    assert "/read_3" in alerts(svc)[0]


def test_articles_any_process_stored_are_alerted_once_from_the_queue(svc: Services) -> None:
    """A worker stores articles; the leading bot process alerts them from the store's alert
    queue at its next tick, once: the queue is empty afterwards, and a second pass (the
    other bot process leading next) queues nothing again."""
    assert svc.store.add_chat_word(CHAT, "alert", "حكومة", NOW)
    store_articles(svc, ["استقالة الحكومة بعد التصويت", "مباراة الليلة"])
    assert svc.store.queued_alert_articles(10) == [1, 2]
    assert alert_new_articles(svc, NOW) == 1
    assert svc.store.queued_alert_articles(10) == []
    assert alert_new_articles(svc, NOW) == 0
    store_articles(svc, ["الحكومة تعلن خطة جديدة"], start=5)
    assert alert_new_articles(svc, NOW + timedelta(minutes=1)) == 1
    assert len(alerts(svc)) == 2
