"""Concurrent delivery within Telegram's limits: one lane per chat, fair across chats, a 429
for one chat holds only that chat, a flood wait for the whole bot holds every chat.

The fake Bot API enforces Telegram's limits where a test asks it to (``enforce_limits``) and
answers 429 when a client goes faster; the bot's own rate limiter (``TelegramLimits``) runs
in the real python-telegram-bot ``ExtBot``. Waits are lower bounds (a sleep never ends
early), never "finished within N seconds" windows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.fake_telegram import FakeTelegram
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.store import Store
from bot.store.chats import PENDING, SENT
from bot.telegram.delivery import Outbox
from bot.telegram.lanes import FLOOD_CHATS, FloodWatch, Lanes
from bot.telegram.limits import BULK, Limits, TelegramLimits

T = TypeVar("T")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def queue(store: Store, chat_id: int, texts: list[str], chat_type: str = "private") -> None:
    store.ensure_chat(chat_id, chat_type, f"chat {chat_id}", times=("07:00",),
                      timezone="UTC", max_items=5, now=T0)
    store.queue_digest(chat_id, [], texts, T0)


def limited_bot(tg: FakeTelegram, limits: Limits | None = None) -> ExtBot[str]:
    return ExtBot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url,
                  rate_limiter=TelegramLimits(limits))


def send_order(tg: FakeTelegram) -> list[tuple[int, str]]:
    return [(m["chat_id"], m["raw_text"]) for m in tg.sent()]


def rejected(tg: FakeTelegram) -> list[dict[str, Any]]:
    return [c for c in tg.calls("sendMessage") if c["status"] == 429]


# -- bookkeeping --------------------------------------------------------------------------


def test_lanes_serve_chats_first_come_first_served_and_keep_each_chats_order() -> None:
    lanes = Lanes(limit=2)
    lanes.add([(1, 10), (2, 20), (3, 10), (4, 30)])
    assert [lanes.next_chat(), lanes.next_chat(), lanes.next_chat()] == [10, 20, None]
    assert lanes.head(10) == 1
    lanes.done(10, 1)
    lanes.add([(5, 10), (3, 10)])  # a second read of the queue takes nothing twice
    assert [lanes.head(10), lanes.cursor] == [3, 5]
    lanes.done(10, 3)
    lanes.done(10, 5)
    lanes.close(10)
    assert lanes.next_chat() == 30  # the lane freed goes to the chat that waited longest
    assert lanes.head(10) is None


def test_one_chat_told_to_wait_is_not_a_flood_but_several_at_once_are() -> None:
    now = [100.0]
    watch = FloodWatch(clock=lambda: now[0])
    assert not watch.told(1, 5.0)
    assert not watch.told(1, 5.0)  # the same chat again: still its own limit
    now[0] += 2.0
    assert [watch.told(chat, 5.0) for chat in range(2, 2 + FLOOD_CHATS)][-1]
    assert watch.remaining() == 5.0
    now[0] += 5.0
    assert watch.remaining() == 0.0


# -- the rate limiter ---------------------------------------------------------------------


def test_replies_get_the_next_turn_before_queued_bulk_sends() -> None:
    order: list[str] = []

    async def scenario() -> None:
        limiter = TelegramLimits(Limits(overall=1, period=0.3, margin=0.0))
        await limiter.initialize()

        async def send(name: str, chat: int, kind: str | None) -> None:
            async def call() -> bool:
                order.append(name)
                return True
            await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat},
                                          kind)

        bulk = [asyncio.create_task(send(f"bulk{n}", 100 + n, BULK)) for n in range(6)]
        await asyncio.sleep(0.05)  # one bulk send went; five wait for their turns
        await send("reply", 7, None)
        await asyncio.gather(*bulk)

    run(scenario())
    assert order.index("reply") == 1  # ahead of the five bulk sends already waiting
    assert sorted(order) == sorted([f"bulk{n}" for n in range(6)] + ["reply"])


def test_a_bulk_share_spaces_bulk_sends_but_never_holds_a_reply() -> None:
    """A stand-by `nashra bot` delivers at a share of the bot's rate: its bulk sends are
    spaced by overall/share; a reply to a reader still gets the next overall turn."""
    sent: list[tuple[str, float]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        limiter = TelegramLimits(Limits(overall=10, period=1.0, margin=0.0))
        await limiter.initialize()
        limiter.set_bulk_share(0.25)   # 2.5 a second: one every 0.4 s

        async def send(name: str, chat: int, kind: str | None) -> None:
            async def call() -> bool:
                sent.append((name, loop.time()))
                return True
            await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat},
                                          kind)

        bulk = [asyncio.create_task(send(f"bulk{n}", 100 + n, BULK)) for n in range(4)]
        await asyncio.sleep(0.05)
        started = loop.time()
        await send("reply", 7, None)
        assert loop.time() - started < 0.4   # not behind the bulk share's pace
        await asyncio.gather(*bulk)
        limiter.set_bulk_share(1.0)   # leading again: the whole rate

    run(scenario())
    times = [at for name, at in sent if name.startswith("bulk")]
    assert len(times) == 4
    assert all(b - a >= 0.4 - 0.01 for a, b in itertools.pairwise(times))


def test_lookups_are_never_held() -> None:
    async def scenario() -> list[str]:
        limiter = TelegramLimits(Limits(overall=1, period=60.0))
        done: list[str] = []

        async def call(name: str) -> bool:
            done.append(name)
            return True
        await limiter.process_request(call, ("send",), {}, "sendMessage", {"chat_id": 1}, BULK)
        await limiter.process_request(call, ("member",), {}, "getChatMember", {"chat_id": 1},
                                      None)
        return done

    assert run(scenario()) == ["send", "member"]


# -- the outbox against the fake Bot API with Telegram's limits -----------------------------


def test_many_chats_are_served_concurrently_in_order_and_within_telegrams_limits(
        fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    tg = fake_telegram
    tg.enforce_limits(overall_per_second=30, private_per_second=1, group_per_minute=20)
    store = Store(tmp_path / "n.db")
    chats = list(range(2001, 2041))
    for chat in chats:  # every chat's whole digest is queued before the next chat's
        queue(store, chat, [f"{chat} part 1", f"{chat} part 2", f"{chat} part 3"])
    queue(store, -1009, [f"group {n}" for n in range(1, 6)], chat_type="supergroup")

    async def scenario() -> None:
        async with limited_bot(tg) as bot:
            await Outbox(bot, store, []).drain()

    run(scenario())
    assert rejected(tg) == []  # the bot kept within the limits: Telegram never said 429
    assert all(m.status == SENT for m in store.outbox_messages())
    order = send_order(tg)
    assert len(order) == len(set(order)) == 40 * 3 + 5  # each message once
    for chat in chats:  # in order within a chat, a second or more apart
        assert [t for c, t in order if c == chat] == [f"{chat} part {n}" for n in (1, 2, 3)]
        times = [m["time"] for m in tg.sent(chat)]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    # Fair: the last chat queued was not made to wait for the first chats' long digests.
    assert order.index((chats[-1], f"{chats[-1]} part 1")) < order.index(
        (chats[0], f"{chats[0]} part 2"))


def test_a_429_for_one_chat_does_not_hold_the_others(fake_telegram: FakeTelegram,
                                                     tmp_path: Path) -> None:
    tg = fake_telegram
    store = Store(tmp_path / "n.db")
    tg.fail_next("sendMessage", retry_after=3, chat_id=3001)
    queue(store, 3001, ["slow 1", "slow 2"])
    for chat in range(3002, 3007):
        queue(store, chat, [f"{chat} digest"])

    async def scenario() -> None:
        async with limited_bot(tg) as bot:
            outbox = Outbox(bot, store, [])
            outbox.start()
            await tg.wait_for_async(lambda: len(tg.sent()) == 7, timeout=30)
            await outbox.stop()

    run(scenario())
    order = [text for _, text in send_order(tg)]
    assert order[-2:] == ["slow 1", "slow 2"]  # the chat told to wait came last, in order
    assert sorted(order[:5]) == [f"{chat} digest" for chat in range(3002, 3007)]
    [told] = rejected(tg)
    assert tg.sent(3001)[0]["time"] >= told["time"] + 3.0


def test_a_flood_wait_for_the_whole_bot_holds_every_chat(fake_telegram: FakeTelegram,
                                                         tmp_path: Path) -> None:
    tg = fake_telegram
    store = Store(tmp_path / "n.db")
    flooded = list(range(4001, 4001 + FLOOD_CHATS))
    for chat in flooded:
        tg.fail_next("sendMessage", retry_after=2, chat_id=chat)
        queue(store, chat, [f"{chat} digest"])

    async def scenario() -> None:
        async with limited_bot(tg) as bot:
            outbox = Outbox(bot, store, [])
            outbox.start()
            # Each flooded message is back to pending after one attempt: the outbox has
            # taken in every 429 (nothing else happens between that record and the next).
            await tg.wait_for_async(lambda: [(m.status, m.attempts) for m in
                                             store.outbox_messages()] ==
                                    [(PENDING, 1)] * FLOOD_CHATS, timeout=30)
            queue(store, 4999, ["a chat Telegram said nothing about"])
            outbox.notify()
            await tg.wait_for_async(lambda: len(tg.sent()) == FLOOD_CHATS + 1, timeout=30)
            await outbox.stop()

    run(scenario())
    last_told = max(c["time"] for c in rejected(tg))
    assert tg.sent(4999)[0]["time"] >= last_told + 1.9  # held by the flood wait too
    assert all(m.status == SENT for m in store.outbox_messages())


def test_a_reply_telegram_refuses_for_a_burst_waits_as_told_and_goes_again(
        fake_telegram: FakeTelegram) -> None:
    fake_telegram.enforce_limits(overall_per_second=30, private_per_second=1,
                                 group_per_minute=20)

    async def scenario() -> None:
        async with limited_bot(fake_telegram) as bot:
            # Three commands within a second: replies are not held per chat, so Telegram
            # refuses the second and third at first.
            await asyncio.gather(*(bot.send_message(5, f"answer {n}") for n in range(3)))

    run(scenario())
    assert sorted(text for _chat, text in send_order(fake_telegram)) == [
        "answer 0", "answer 1", "answer 2"]
    assert rejected(fake_telegram)  # the burst was refused first, then delivered


def test_a_reply_is_not_held_for_a_long_flood_wait() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        limiter = TelegramLimits()
        await limiter.initialize()

        async def refused() -> bool:
            calls.append(1)
            raise RetryAfter(600)
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 5}, None)

    with pytest.raises(RetryAfter):
        run(scenario())
    assert calls == [1]  # failed at once: the error handler tells the reader
