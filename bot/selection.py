"""Which stories a digest holds: group articles into stories, apply a chat's filters, rank.

A chat's candidates are the articles it has not been sent, above its watermark (an article
id: every article at or below it was sent, filtered out or expired for this chat), so a
refresh that stores articles while a digest is being chosen loses nothing: they get higher
ids and are candidates next time. Ranking puts the stories carried by the most outlets
first, then the newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.analysis import find_word
from bot.models import Chat
from bot.store import Store, StoredArticle


@dataclass(frozen=True)
class Story:
    """One event as one or more outlets reported it; ``articles`` oldest first."""

    id: int
    articles: tuple[StoredArticle, ...]

    @property
    def main(self) -> StoredArticle:
        """The article whose headline and lead represent the story: the earliest translated
        one (an untranslated or foreign-language one only when nothing else exists)."""
        translated = [a for a in self.articles if a.language == "ar" and a.title_translated]
        return (translated or list(self.articles))[0]

    @property
    def others(self) -> list[StoredArticle]:
        """One article per other outlet, for the "Also:" line."""
        seen = {self.main.feed_id}
        also: list[StoredArticle] = []
        for article in self.articles:
            if article.feed_id not in seen:
                seen.add(article.feed_id)
                also.append(article)
        return also

    @property
    def outlets(self) -> int:
        return len({a.feed_id for a in self.articles})

    @property
    def newest(self) -> datetime:
        return max(a.published for a in self.articles)


@dataclass(frozen=True)
class ChatFilters:
    """A chat's include and exclude words (empty include = everything)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def admits(self, story: Story) -> bool:
        texts = story_texts(story)
        if self.exclude and find_word(self.exclude, texts):
            return False
        return not self.include or find_word(self.include, texts) is not None


@dataclass(frozen=True)
class DigestPlan:
    """The stories to send now, how many more qualify, and the chat's next watermark."""

    shown: list[Story]
    more: int
    watermark: int | None


def story_texts(story: Story) -> list[str]:
    """What filters and alerts look at: titles and texts, original and translated."""
    return [text for a in story.articles for text in (
        a.title_original, a.title_translated, a.text_original, a.text_translated) if text]


def build_stories(grouped: Mapping[int, Sequence[StoredArticle]],
                  excluded_feeds: Iterable[int] = ()) -> list[Story]:
    """Stories from ``story id → articles``, without the articles of excluded sources."""
    skip = set(excluded_feeds)
    stories = []
    for story_id, articles in grouped.items():
        kept = tuple(a for a in articles if a.feed_id not in skip)
        if kept:
            stories.append(Story(story_id, kept))
    return stories


def rank(stories: Iterable[Story]) -> list[Story]:
    """Most outlets first, then the newest, then the latest stored."""
    return sorted(stories, key=lambda s: (-s.outlets, -s.newest.timestamp(), -s.id))


class SharedStories:
    """Stories' articles read once and shared by every chat served in one digest tick
    (10,000 chats due together have mostly the same candidates). A story is read again
    when a candidate article is not among what was read: one joined it meanwhile."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._articles: dict[int, list[StoredArticle]] = {}
        self._ids: dict[int, set[int]] = {}

    def articles(self, candidates: Sequence[tuple[int, int]]) -> dict[int, list[StoredArticle]]:
        stale = {story for article, story in candidates
                 if article not in self._ids.get(story, ())}
        if stale:
            for story, articles in self._store.story_articles(sorted(stale)).items():
                self._articles[story] = articles
                self._ids[story] = {a.id for a in articles}
        wanted = dict.fromkeys(story for _article, story in candidates)
        return {story: self._articles[story] for story in wanted if story in self._articles}


def plan_digest(store: Store, chat: Chat, filters: ChatFilters, *, now: datetime,
                max_age: timedelta, shared: SharedStories | None = None) -> DigestPlan:
    """The top ``chat.max_items`` unsent stories for ``chat``, and what remains."""
    candidates = store.digest_candidates(chat, expiry=now - max_age)
    if not candidates:
        return DigestPlan([], 0, None)
    grouped = (shared or SharedStories(store)).articles(candidates)
    stories = rank(s for s in build_stories(grouped, chat.excluded_feeds) if filters.admits(s))
    shown, rest = stories[:chat.max_items], stories[chat.max_items:]
    return DigestPlan(shown, len(rest), _next_watermark(candidates, rest))


def _next_watermark(candidates: Sequence[tuple[int, int]], rest: Sequence[Story]) -> int:
    """Just below the oldest article of a story still waiting; else past every candidate.

    Candidates filtered out are passed over for good; stories still waiting keep the
    watermark below them so the next digest sees them again.
    """
    waiting = {story.id for story in rest}
    pending = [article for article, story in candidates if story in waiting]
    return min(pending) - 1 if pending else max(article for article, _story in candidates)


def recent_stories(store: Store, *, since: datetime) -> list[Story]:
    """Every story with an article published since ``since``, ranked (for `nashra digest`)."""
    recent = store.recent_articles(since=since)
    grouped = store.story_articles([a.story_id for a in recent])
    return rank(build_stories(grouped))
