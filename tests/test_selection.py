"""Choosing a chat's digest: the article-id watermark, stories, ranking, overflow, expiry,
filters — on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import FeedConfig
from bot.models import Article, Chat
from bot.selection import ChatFilters, SharedStories, plan_digest, rank, recent_stories
from bot.store import Store, StoredArticle

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MAX_AGE = timedelta(hours=48)
CHAT = 4242
EVERYTHING = ChatFilters()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "nashra.db") as db:
        db.sync_feeds([FeedConfig(f"https://feed{n}.example/rss", f"Outlet {n}")
                       for n in range(1, 5)], NOW)
        db.ensure_chat(CHAT, "private", "reader", times=("08:00",), timezone="UTC",
                       max_items=3, now=NOW)
        yield db


def add(store: Store, n: int, *, feed: int = 1, fetched: datetime = NOW,
        published: datetime | None = None, title: str = "", text: str = "") -> int:
    article = Article(
        feed_id=feed, key=f"k{n}", url=f"https://feed{feed}.example/{n}",
        canonical_url=f"https://feed{feed}.example/{n}",
        published=published or fetched - timedelta(minutes=n), fetched=fetched, language="ar",
        title_original=f"عنوان {n}", text_original=text or f"نص {n}",
        title_translated=title or f"Headline {n}", text_translated=f"Text {n}.",
        lead=f"Lead {n}.", model="m")
    [article_id] = store.insert_articles([article])
    return article_id


def join(store: Store, article_id: int, story_id: int) -> None:
    """What the stories stage does when an article joins an existing story."""
    store._db.execute("UPDATE articles SET story_id = :s WHERE id = :a",
                      {"s": story_id, "a": article_id})


def chat(store: Store) -> Chat:
    found = store.get_chat(CHAT)
    assert found is not None
    return found


def send(store: Store, now: datetime = NOW, filters: ChatFilters = EVERYTHING) -> list[int]:
    """Plan and queue a digest as the bot does; returns the story ids sent."""
    plan = plan_digest(store, chat(store), filters, now=now, max_age=MAX_AGE)
    if plan.shown:
        store.queue_digest(CHAT, [s.id for s in plan.shown], ["text"], now,
                           watermark=plan.watermark)
    else:
        store.advance_chat(CHAT, watermark=plan.watermark)
    return [s.id for s in plan.shown]


def test_articles_stored_after_a_digest_with_older_fetch_times_are_sent_next(
        store: Store) -> None:
    first = [add(store, n) for n in (1, 2)]
    assert sorted(send(store)) == sorted(first)
    # A refresh that started before that digest stores its articles now, stamped with its
    # start time: the old "fetched since the last digest" rule lost these for good.
    late = [add(store, n, fetched=NOW - timedelta(minutes=5)) for n in (3, 4)]
    assert sorted(send(store, NOW + timedelta(minutes=1))) == sorted(late)
    assert send(store, NOW + timedelta(minutes=2)) == []


def test_overflow_waits_for_the_next_page_and_the_watermark_does_not_skip_it(
        store: Store) -> None:
    ids = [add(store, n, published=NOW - timedelta(minutes=n)) for n in range(1, 8)]
    plan = plan_digest(store, chat(store), ChatFilters(), now=NOW, max_age=MAX_AGE)
    assert [s.id for s in plan.shown] == ids[:3] and plan.more == 4
    assert send(store) == ids[:3]
    newer = add(store, 8, published=NOW)
    assert send(store) == [newer, *ids[3:5]]
    assert send(store) == ids[5:7]
    assert send(store) == []
    assert chat(store).watermark == ids[-1]  # past every article it was offered


def test_a_story_is_sent_once_even_when_another_outlet_joins_it(store: Store) -> None:
    first = add(store, 1, feed=1)
    assert send(store) == [first]
    later = add(store, 2, feed=2)
    join(store, later, first)
    assert send(store) == []


def test_ranking_by_outlets_then_recency(store: Store) -> None:
    lone_new = add(store, 1, feed=1, published=NOW)
    wide = add(store, 2, feed=1, published=NOW - timedelta(hours=3))
    join(store, add(store, 3, feed=2), wide)
    join(store, add(store, 4, feed=3), wide)
    pair = add(store, 5, feed=2, published=NOW - timedelta(hours=5))
    join(store, add(store, 6, feed=4), pair)
    assert send(store) == [wide, pair, lone_new]


def test_stories_group_articles_and_count_outlets(store: Store) -> None:
    wide = add(store, 1, feed=1, published=NOW - timedelta(hours=2))
    join(store, add(store, 2, feed=2, published=NOW - timedelta(hours=1)), wide)
    stories = recent_stories(store, since=NOW - timedelta(hours=24))
    assert [s.id for s in stories] == [wide]
    [story] = stories
    assert story.outlets == 2 and story.main.id == wide
    assert [a.feed_name for a in story.others] == ["Outlet 2"]
    assert rank(stories) == stories


def test_unsent_stories_expire_quietly(store: Store) -> None:
    add(store, 1, fetched=NOW - timedelta(hours=49))
    fresh = add(store, 2)
    assert send(store) == [fresh]


def test_excluded_sources_and_inactive_feeds(store: Store) -> None:
    add(store, 1, feed=1)
    other = add(store, 2, feed=2)
    store.set_feed_excluded(CHAT, 1, True)
    assert send(store) == [other]


def test_include_and_exclude_words(store: Store) -> None:
    bank = add(store, 1, title="Central bank raises rates")
    add(store, 2, title="Football final tonight")
    both = add(store, 3, title="Bank strike", text="أضرب موظفو البنك والحكومة تفاوض")
    only_banks = ChatFilters(include=("bank",), exclude=("حكومة",))
    assert send(store, filters=only_banks) == [bank]
    # Filtered-out stories are passed over for good, not offered again.
    assert send(store, NOW + timedelta(minutes=1)) == []
    assert both not in send(store, NOW + timedelta(minutes=2))


class CountingStore(Store):
    """Records which stories each story_articles call reads."""

    reads: list[list[int]]

    def story_articles(self, story_ids: Sequence[int]) -> dict[int, list[StoredArticle]]:
        self.reads = [*getattr(self, "reads", []), list(story_ids)]
        return super().story_articles(story_ids)


def test_one_tick_reads_each_story_once_for_all_chats_and_again_when_one_grows(
        tmp_path: Path) -> None:
    with CountingStore(tmp_path / "nashra.db") as store:
        store.sync_feeds([FeedConfig(f"https://feed{n}.example/rss", f"Outlet {n}")
                          for n in range(1, 4)], NOW)
        chats = []
        for chat_id in (1, 2, 3):
            chats.append(store.ensure_chat(chat_id, "private", "r", times=("08:00",),
                                           timezone="UTC", max_items=5, now=NOW))
        first, second = add(store, 1, feed=1), add(store, 2, feed=2)
        shared = SharedStories(store)
        plans = [plan_digest(store, c, EVERYTHING, now=NOW, max_age=MAX_AGE, shared=shared)
                 for c in chats[:2]]
        assert store.reads == [sorted([first, second])]  # one read for both chats
        later = add(store, 3, feed=3)
        join(store, later, first)  # an outlet joins the story between two chats
        plan = plan_digest(store, chats[2], EVERYTHING, now=NOW, max_age=MAX_AGE,
                           shared=shared)
    assert store.reads[1:] == [[first]]  # only the story that grew is read again
    assert [sorted(s.id for s in p.shown) for p in plans] == [[first, second]] * 2
    grown = next(s for s in plan.shown if s.id == first)
    assert sorted(a.id for a in grown.articles) == [first, later]


def test_a_tick_shares_stories_but_each_chat_sees_only_its_sources(tmp_path: Path) -> None:
    with Store(tmp_path / "nashra.db") as store:
        store.sync_feeds([FeedConfig(f"https://feed{n}.example/rss", f"Outlet {n}")
                          for n in (1, 2)], NOW)
        for chat_id in (1, 2):
            store.ensure_chat(chat_id, "private", "r", times=("08:00",), timezone="UTC",
                              max_items=5, now=NOW)
        story = add(store, 1, feed=1, title="Port reopens after repairs")
        join(store, add(store, 2, feed=2, title="Port reopens; dockers strike"), story)
        store.set_feed_excluded(2, 2, True)
        chats = [store.get_chat(chat_id) for chat_id in (1, 2)]
        assert chats[0] is not None and chats[1] is not None
        no_strikes = ChatFilters(exclude=("strike",))
        shared = SharedStories(store)
        everyone = plan_digest(store, chats[0], no_strikes, now=NOW, max_age=MAX_AGE,
                               shared=shared)
        without_outlet_2 = plan_digest(store, chats[1], no_strikes, now=NOW, max_age=MAX_AGE,
                                       shared=shared)
        again = shared.stories([(story, story)])
    # Outlet 2's article mentions the strike: filtered for the chat that reads it, while the
    # chat that excluded outlet 2 judges (and gets) the story by outlet 1's article alone.
    assert everyone.shown == []
    [shown] = without_outlet_2.shown
    assert [a.feed_id for a in shown.articles] == [1]
    # Other chats still get the whole shared story, its words gathered once.
    assert sorted(a.feed_id for a in again[0].articles) == [1, 2]
    assert again == shared.stories([(story, story)]) and again[0] is shared.stories(
        [(story, story)])[0]
