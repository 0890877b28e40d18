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
from functools import cached_property

from bot.analysis import TextIndex
from bot.languages import has_translation
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
        translated = [a for a in self.articles if has_translation(a) and a.title_translated]
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

    @cached_property
    def words(self) -> TextIndex:
        """The story's words for filters and alerts (built once, on first use)."""
        return TextIndex(story_texts(self))

    @cached_property
    def rank_key(self) -> tuple[int, float, int]:
        """Most outlets first, then the newest, then the latest stored."""
        return (-self.outlets, -self.newest.timestamp(), -self.id)

    def without(self, feeds: set[int]) -> Story | None:
        """The story without the articles of ``feeds`` (itself when it has none of them)."""
        if not feeds or not any(a.feed_id in feeds for a in self.articles):
            return self
        kept = tuple(a for a in self.articles if a.feed_id not in feeds)
        return Story(self.id, kept) if kept else None


@dataclass(frozen=True)
class ChatFilters:
    """A chat's include and exclude words (empty include = everything)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def admits(self, story: Story) -> bool:
        if self.exclude and story.words.find(self.exclude):
            return False
        return not self.include or story.words.find(self.include) is not None


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
    stories = (Story(story_id, tuple(articles)).without(skip)
               for story_id, articles in grouped.items() if articles)
    return [story for story in stories if story is not None]


def rank(stories: Iterable[Story]) -> list[Story]:
    """Most outlets first, then the newest, then the latest stored."""
    return sorted(stories, key=lambda s: s.rank_key)


class SharedStories:
    """Stories read once and shared by every chat served in one digest tick (10,000 chats
    due together have mostly the same candidates), with what filters and ranking compute
    about them. A story is read again when a candidate article is not among what was read:
    one joined it meanwhile."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stories: dict[int, Story] = {}
        self._ids: dict[int, set[int]] = {}

    def stories(self, candidates: Sequence[tuple[int, int]],
                excluded_feeds: Iterable[int] = ()) -> list[Story]:
        """The stories of ``candidates`` (article id, story id), without excluded sources."""
        stale = {story for article, story in candidates
                 if article not in self._ids.get(story, ())}
        if stale:
            for story_id, articles in self._store.story_articles(sorted(stale)).items():
                self._stories[story_id] = Story(story_id, tuple(articles))
                self._ids[story_id] = {a.id for a in articles}
        skip = set(excluded_feeds)
        wanted = (self._stories.get(story) for story in
                  dict.fromkeys(story for _article, story in candidates))
        kept = (story.without(skip) for story in wanted if story is not None)
        return [story for story in kept if story is not None]


def plan_digest(store: Store, chat: Chat, filters: ChatFilters, *, now: datetime,
                max_age: timedelta, shared: SharedStories | None = None) -> DigestPlan:
    """The top ``chat.max_items`` unsent stories for ``chat``, and what remains."""
    candidates = store.digest_candidates(chat, expiry=now - max_age)
    if not candidates:
        return DigestPlan([], 0, None)
    found = (shared or SharedStories(store)).stories(candidates, chat.excluded_feeds)
    stories = rank(filter(filters.admits, found))
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
