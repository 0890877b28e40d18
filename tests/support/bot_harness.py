"""Run the real Nashra bot against the fake Bot API server, in-process or as a process.

``bot_site`` prepares loopback feeds, a config and a database already filled by one
`nashra fetch`, so scenarios start with articles to send.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import ensure_model, main
from bot.config import Settings, load_settings
from bot.store import Store
from bot.telegram.app import build_application
from bot.telegram.ratelimit import LIMITER_KEY, RateLimiter
from bot.telegram.services import NashraApp
from support.arabic_samples import ARTICLES, SampleArticle, register_site
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

ADMIN = 777001
READER = 1001


def article_variants(copies: int) -> list[SampleArticle]:
    """``copies`` distinct stories per sample (own slug and title), for long digests."""
    return [dataclasses.replace(a, slug=f"{a.slug}-{n}", title=f"{a.title} ({n})")
            for n in range(copies) for a in ARTICLES]


@dataclass
class BotSite:
    telegram: FakeTelegram
    feeds: FeedServer
    config: Path
    settings: Settings

    def store(self) -> Store:
        return Store(self.settings.database)

    def env(self) -> dict[str, str]:
        return {**os.environ, "NASHRA_TELEGRAM_TOKEN": self.telegram.token}


def postgres_url_of(store_location: Path | str) -> str:
    """The ``store_location`` fixture's PostgreSQL URL, or "" when the test runs on SQLite."""
    return store_location if isinstance(store_location, str) else ""


def make_bot_site(tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer,
                  argos_package: Path, *, articles: Sequence[SampleArticle] = ARTICLES,
                  extra: Sequence[str] = (), database_url: str = "") -> BotSite:
    """A bot's config and a first refresh: SQLite in ``tmp_path``, or the PostgreSQL
    ``database_url`` (models stay beside the SQLite path either way)."""
    feed_url = register_site(feeds, articles, kind="content")
    lines = [
        "[telegram]", f'api_base_url = "{telegram.base_url}"', f"admins = [{ADMIN}]",
        "[storage]", f'path = "{tmp_path / "data" / "nashra.db"}"', f'url = "{database_url}"',
        "[translation]", f'model = "{argos_package}"', "threads = 1",
        "[fetch]", "timeout_seconds = 2", "interval_minutes = 60", "max_entries = 100",
        *extra,
        "[[feeds]]", f'url = "{feed_url}"', 'name = "الوكالة التجريبية"',
    ]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fetched = CliRunner().invoke(main, ["--config", str(config), "fetch"])
    assert fetched.exit_code == 0, fetched.output
    settings = load_settings(str(config), environ={"NASHRA_TELEGRAM_TOKEN": telegram.token})
    return BotSite(telegram, feeds, config, settings)


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path) -> BotSite:
    """A bot site on an SQLite file (a test module may define its own ``site``)."""
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package)


# In-process scenarios send commands much faster than people do; the per-chat rate limit
# stays in the path but this high unless a test passes its own limiter.
SCENARIO_LIMITER_LIMIT = 1_000_000


@asynccontextmanager
async def running_bot(site: BotSite, *, rate_limiter: RateLimiter | None = None,
                      receive: Callable[[NashraApp], Awaitable[None]] | None = None,
                      ) -> AsyncIterator[NashraApp]:
    """The application as `nashra run` starts it: post_init, polling (or ``receive``, e.g.
    a webhook), then a clean stop.

    The per-chat command rate limit is lifted (``SCENARIO_LIMITER_LIMIT``) unless
    ``rate_limiter`` is given, e.g. ``RateLimiter()`` for the production limit.
    """
    app = build_application(site.settings, ensure_model(site.settings))
    app.bot_data[LIMITER_KEY] = rate_limiter or RateLimiter(limit=SCENARIO_LIMITER_LIMIT)
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    assert app.updater is not None
    if receive is None:
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
    else:
        await receive(app)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_stop:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


@contextmanager
def bot_process(site: BotSite, *args: str,
                output: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """`python -m bot run` as a real process; killed at the end if still running.

    stdout and stderr are pipes, or with ``output`` both go to that file (for chatty runs
    such as ``-v``, which could fill a pipe nobody reads and block the bot).
    """
    sink = output.open("w", encoding="utf-8") if output is not None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(site.config), *args, "run"],
        env=site.env(), stdout=sink or subprocess.PIPE,
        stderr=subprocess.STDOUT if sink else subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if sink is not None:
            sink.close()


def button_data(message: dict[str, Any], label_part: str) -> str:
    """The callback data of the inline button whose label contains ``label_part``."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if label_part in button["text"]:
                return str(button["callback_data"])
    raise AssertionError(f"no button with {label_part!r} in {message['reply_markup']}")


async def say(tg: FakeTelegram, text: str, chat: int = READER, **kw: Any) -> dict[str, Any]:
    """Send ``text`` as a user and return the bot's next message in that chat."""
    before = len(tg.sent(chat))
    tg.push_message(chat, text, **kw)
    messages = await tg.wait_for_messages_async(chat, before + 1)
    return messages[before]


async def press(tg: FakeTelegram, chat: int, message_id: int, data: str, *,
                user_id: int | None = None, check_button: bool = True) -> dict[str, Any]:
    """Press (or, with ``check_button=False``, forge) a button; returns the bot's answer
    to the press: ``{"callback_query_id", "text", "show_alert"}``."""
    update = tg.push_callback(chat, message_id, data, user_id=user_id,
                              check_button=check_button)
    query_id = update["callback_query"]["id"]
    answers = await tg.wait_for_async(lambda: tg.answers(query_id),
                                      message=f"an answer to the press of {data!r}")
    return answers[0]
