"""The checks of `nashra doctor` that use the network: the bot token and the feeds.

The token is asked Telegram's ``getMe`` at ``telegram.api_base_url``; it is part of that URL,
so no error is shown without being redacted first. Each feed is fetched once with the fetch
stage's limits (timeout, size, concurrency, per-host limit, and the public-address rule for
feeds admins added from the chat), all at once within those limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from bot.config import Settings
from bot.doctor import Check
from bot.errors import StageError
from bot.fetch import Fetcher
from bot.stages import fetch_settings
from bot.store.base import ReadConnection

REFUSED = (401, 404)   # Telegram's answers to a revoked or malformed token
SHOWN_FAILURES = 10


def check_token(settings: Settings) -> Check:
    """The token is accepted by the Bot API (getMe)."""
    telegram = settings.telegram
    token = telegram.token
    if not token:
        return Check("token", False, "telegram.token is empty",
                     "set $NASHRA_TELEGRAM_TOKEN (or telegram.token) to the token @BotFather "
                     "gave the bot")
    host = urlsplit(telegram.api_base_url).netloc or telegram.api_base_url
    try:
        response = httpx.get(f"{telegram.api_base_url}{token}/getMe",
                             timeout=settings.fetch.timeout_seconds)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        reason = (str(exc) or type(exc).__name__).replace(token, "<token>")
        return Check("token", False, f"no answer from {host}: {reason}",
                     "check the network (and telegram.api_base_url if you changed it)")
    if response.status_code in REFUSED:
        return Check("token", False, f"Telegram refused the token (HTTP {response.status_code})",
                     "copy the token from @BotFather again (/mybots → API Token)")
    if not isinstance(answer, dict) or not answer.get("ok"):
        return Check("token", False, f"unexpected answer from {host} "
                     f"(HTTP {response.status_code})", "check telegram.api_base_url")
    bot = answer.get("result") or {}
    return Check("token", True, f"accepted: @{bot.get('username')} (id {bot.get('id')})")


@dataclass(frozen=True)
class _Feed:
    name: str
    url: str
    public_only: bool


def check_feeds(settings: Settings, reader: ReadConnection | None) -> Check:
    """Each feed answers one GET."""
    feeds = _feeds(settings, reader)
    if not feeds:
        return Check("feeds", False, "no feeds configured",
                     "add [[feeds]] entries to the config file")
    errors = asyncio.run(_fetch_all(settings, feeds))
    failing = [(feed, error) for feed, error in zip(feeds, errors, strict=True) if error]
    answering = f"{len(feeds) - len(failing)} of {len(feeds)} feeds answer"
    if not failing:
        return Check("feeds", True, answering)
    shown = ", ".join(f"{feed.name} ({error})" for feed, error in failing[:SHOWN_FAILURES])
    more = f" and {len(failing) - SHOWN_FAILURES} more" if len(failing) > SHOWN_FAILURES else ""
    return Check("feeds", False, f"{answering}; failing: {shown}{more}",
                 "check those URLs in a browser; fix or remove them (a feed failing for "
                 "fetch.pause_after_days is paused by itself)")


def _feeds(settings: Settings, reader: ReadConnection | None) -> list[_Feed]:
    """The configured feeds, then those admins added from the chat (from the database), each
    at its new address if it moved."""
    moved: dict[str, str] = {}
    added: list[_Feed] = []
    if reader is not None:
        with reader.use() as db:
            rows = db.execute("SELECT name, url, fetch_url, origin FROM feeds "
                              "WHERE active = 1 ORDER BY id").fetchall()
        public_only = not settings.fetch.allow_private
        for name, url, fetch_url, origin in (tuple(row) for row in rows):
            if fetch_url:
                moved[url] = fetch_url
            if origin == "user":
                added.append(_Feed(name, fetch_url or url, public_only))
    configured = [_Feed(f.name, moved.get(f.url, f.url), False) for f in settings.feeds]
    known = {feed.url for feed in configured}
    return configured + [feed for feed in added if feed.url not in known]


async def _fetch_all(settings: Settings, feeds: Sequence[_Feed]) -> list[str | None]:
    async with Fetcher(fetch_settings(settings)) as fetcher:
        return list(await asyncio.gather(*(_fetch_one(fetcher, feed) for feed in feeds)))


async def _fetch_one(fetcher: Fetcher, feed: _Feed) -> str | None:
    """None when the feed answers, else why not (one line)."""
    try:
        await fetcher.fetch(feed.url, public_only=feed.public_only)
    except StageError as exc:
        return str(exc)
    except Exception as exc:  # a library surprise: this feed fails, the others go on
        return f"internal error: {type(exc).__name__}"
    return None
