"""Per-chat command rate limit: a polite notice once per window, then silence; button presses
count too; other chats are unaffected; the chat is served again once the window frees."""

from __future__ import annotations

import asyncio
from pathlib import Path

from support.bot_harness import READER, BotSite, press, running_bot, say

from bot.config import load_settings
from bot.models import ModelInfo
from bot.telegram.app import build_application
from bot.telegram.ratelimit import (
    COMMANDS_PER_WINDOW,
    LIMITER_KEY,
    SLOW_DOWN,
    WINDOW_SECONDS,
    RateLimiter,
    Verdict,
)

OTHER = 1002


def test_sliding_window_warns_once_then_drops_then_frees() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=3, window=10.0, clock=lambda: now[0])
    verdicts = []
    for t in (0.0, 1.0, 2.0, 3.0, 4.0, 9.9):
        now[0] = t
        verdicts.append(limiter.check(1))
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    assert limiter.check(2) is Verdict.ALLOW  # per chat
    now[0] = 10.0  # the first command leaves the window: one slot frees
    assert [limiter.check(1), limiter.check(1)] == [Verdict.ALLOW, Verdict.WARN]
    now[0] = 12.5  # the next two leave it as well; refused commands never counted
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN]


def test_nashra_run_limits_each_chat_to_20_commands_a_minute(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"NASHRA_TELEGRAM_TOKEN": "1:x" + "y" * 30})
    model = ModelInfo(id="m", source="ar", target="en", version="1", path=str(tmp_path),
                      size_bytes=0)
    app = build_application(settings, model)
    limiter = app.bot_data[LIMITER_KEY]
    assert (limiter.limit, limiter.window) == (COMMANDS_PER_WINDOW, WINDOW_SECONDS) == (20, 60)


def test_flooding_chat_is_told_once_and_others_are_unaffected(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site, rate_limiter=RateLimiter()):
            menu = await say(tg, "/settings")
            for _ in range(COMMANDS_PER_WINDOW - 1):
                assert (await say(tg, "/help"))["text"].startswith("Commands")
            notice = await say(tg, "/help")
            assert notice["text"] == SLOW_DOWN
            count = len(tg.sent(READER))
            for text in ("/digest", "/search في", "/help", "/unsubscribe"):
                tg.push_message(READER, text)
            answered = await press(tg, READER, menu["message_id"], "set:times")
            assert answered["text"] == SLOW_DOWN
            assert (await say(tg, "/help", chat=OTHER))["text"].startswith("Commands")
            assert len(tg.sent(READER)) == count  # ignored silently, in order before OTHER's
            assert not tg.edits(READER)  # the refused button press changed nothing

    asyncio.run(scenario())


def test_commands_are_served_again_when_the_window_frees(site: BotSite) -> None:
    tg = site.telegram

    async def scenario() -> None:
        async with running_bot(site, rate_limiter=RateLimiter(limit=3, window=1.5)):
            for _ in range(3):
                assert (await say(tg, "/help"))["text"].startswith("Commands")
            assert (await say(tg, "/help"))["text"] == SLOW_DOWN
            tg.push_message(READER, "/help")
            await say(tg, "/help", chat=OTHER)
            await asyncio.sleep(1.6)
            assert (await say(tg, "/help"))["text"].startswith("Commands")
            assert [m["text"] for m in tg.sent(READER)].count(SLOW_DOWN) == 1

    asyncio.run(scenario())
