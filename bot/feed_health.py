"""A feed's life cycle: failing, paused, probed once a day, back.

A fetch that fails sets ``feeds.failing_since`` (when the streak began); one that succeeds
clears it. A feed failing without a break for ``fetch.pause_after_days`` is paused: it is
then fetched once a day only (a probe), and the admins are told once, with its last error.
The pause is one conditional UPDATE (``paused_at IS NULL``) in the transaction that queues
the notices, so of two processes (or workers) that see the same failure only one pauses
the feed and tells anyone. A probe that answers resumes the feed, again with one notice;
``/resumefeed`` resumes it at once.

Notices go through the durable outbox (kind ``notice``): a worker, which never talks to
Telegram, queues them and the bot process delivers them within Telegram's limits. They go
to ``telegram.admin_chat`` when set, else to each admin privately.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from bot.config import Settings
from bot.errors import StoreError
from bot.i18n import language_for, translation
from bot.models import FeedState
from bot.refresh_windows import write
from bot.store import Store
from bot.store.feedhealth import PROBE_EVERY, Notice

log = logging.getLogger(__name__)
ERROR_CHARS = 300                 # of the last error, in a notice


class Outcome(Protocol):
    """What a refresh did for one feed (``bot.pipeline.FeedReport`` has these)."""

    url: str
    error: str | None
    postponed_until: datetime | None


def alert_chats(settings: Settings) -> tuple[int, ...]:
    """Where operational alerts go: the admin chat, else each admin privately."""
    return settings.telegram.alert_chats


def pause_due(feed: FeedState, now: datetime, pause_after: timedelta) -> bool:
    """Whether a feed that just failed has been failing long enough to be paused."""
    return (feed.paused_at is None and feed.failing_since is not None
            and now - feed.failing_since >= pause_after)


def paused_feeds(store: Store) -> list[FeedState]:
    """The active feeds paused now, the longest paused first."""
    paused = [feed for feed in store.feeds(active_only=True) if feed.paused_at is not None]
    return sorted(paused, key=lambda feed: (feed.paused_at, feed.id))


def pause_text(feed: FeedState, error: str, days: int, language: str) -> str:
    """The notice of a paused feed (HTML)."""
    ngettext = translation(language).ngettext
    return ngettext(
        "⏸ Feed paused: <b>%(name)s</b>\n%(url)s\nIt has failed for %(days)d day; "
        "last error: %(error)s\nIt is now tried once a day and comes back by itself when "
        "it answers. /resumefeed resumes it now.",
        "⏸ Feed paused: <b>%(name)s</b>\n%(url)s\nIt has failed for %(days)d days; "
        "last error: %(error)s\nIt is now tried once a day and comes back by itself when "
        "it answers. /resumefeed resumes it now.", days) % {
        "name": html.escape(feed.name), "url": html.escape(feed.url), "days": days,
        "error": html.escape(error[:ERROR_CHARS])}


def resume_text(feed: FeedState, language: str) -> str:
    """The notice of a paused feed that answered again (HTML)."""
    _ = translation(language).gettext
    return _("▶ Feed back: <b>%(name)s</b> answers again and is fetched as usual.\n%(url)s") % {
        "name": html.escape(feed.name), "url": html.escape(feed.url)}


def notices(store: Store, settings: Settings, text_for: Callable[[str], str]) -> list[Notice]:
    """One notice a target chat, each in that chat's language."""
    found = []
    for chat_id in alert_chats(settings):
        chat = store.get_chat(chat_id)
        found.append(Notice(chat_id, text_for(language_for(chat.language if chat else None))))
    return found


async def review(store: Store, settings: Settings, feeds: Sequence[FeedState],
                 outcomes: Iterable[Outcome], now: datetime) -> None:
    """After a refresh: pause the feeds failing too long, resume paused feeds that answered,
    and keep failing paused feeds to one probe a day. A store failure is logged; the next
    refresh looks again."""
    by_url = {feed.url: feed for feed in feeds}
    for outcome in outcomes:
        feed = by_url.get(outcome.url)
        if feed is None or outcome.postponed_until is not None:
            continue
        try:
            await _review_one(store, settings, feed, outcome.error, now)
        except StoreError as exc:
            log.warning("feed %s: could not update its health: %s", feed.url, exc)
        except Exception:  # a bug here must not cost the refresh its report
            log.exception("feed %s: health review failed", feed.url)


async def _review_one(store: Store, settings: Settings, feed: FeedState, error: str | None,
                      now: datetime) -> None:
    days = settings.fetch.pause_after_days
    if error is None:
        if feed.paused_at is not None:
            texts = notices(store, settings, partial(resume_text, feed))
            if await write(partial(store.resume_feed, feed.id, now, texts,
                                   defaults=settings.digest)):
                log.warning("feed %s answers again: resumed", feed.url)
    elif feed.paused_at is not None:
        await write(partial(store.postpone_probe, feed.id, now + PROBE_EVERY))
    elif pause_due(feed, now, timedelta(days=days)):
        texts = notices(store, settings, partial(pause_text, feed, error, days))
        if await write(partial(store.pause_failing_feed, feed.id, now, texts,
                               failing_before=now - timedelta(days=days),
                               probe_at=now + PROBE_EVERY, defaults=settings.digest)):
            log.warning("feed %s paused after failing for %d days: %s", feed.url, days, error)
