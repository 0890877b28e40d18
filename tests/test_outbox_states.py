"""The outbox state machine (pending -> sending -> sent | failed) when the store fails, text
retention, and merging a migrated group into a chat row that already exists.

The Outbox runs against the fake Bot API and a real SQLite store; store failures come from a
Store subclass, and back-off waits from an injected sleep, so nothing here waits on the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.fake_telegram import FakeTelegram

from bot.errors import StoreError
from bot.store import Store
from bot.store.chats import FAILED, PENDING, SENDING, SENT
from bot.telegram import delivery
from bot.telegram.delivery import RECORD_BACKOFF, Outbox

T = TypeVar("T")
CHAT = 5005
ADMIN = 777001
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FlakyStore(Store):
    """A real store whose chosen writes fail their first N calls, as on a full disk."""

    def __init__(self, path: Path, **failures: int) -> None:
        super().__init__(path)
        self.failures = Counter(failures)
        self.calls: Counter[str] = Counter()

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.failures[name] > 0:
            self.failures[name] -= 1
            raise StoreError("database or disk is full")

    def mark_sending(self, message_id: int) -> bool:
        self._call("mark_sending")
        return super().mark_sending(message_id)

    def mark_sent(self, message_id: int, telegram_message_id: int, now: datetime) -> None:
        self._call("mark_sent")
        super().mark_sent(message_id, telegram_message_id, now)

    def forget_sent_texts(self, before: datetime) -> int:
        self._call("forget_sent_texts")
        return super().forget_sent_texts(before)


class FakeSleep:
    """Records the waits asked for; ``on_wait`` sees the world at each one. With ``gate``
    each wait lasts until the test opens it."""

    def __init__(self, on_wait: Callable[[], object] | None = None, *,
                 gate: asyncio.Event | None = None) -> None:
        self.waits: list[float] = []
        self.seen: list[object] = []
        self.called = asyncio.Event()
        self._on_wait = on_wait
        self._gate = gate

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._on_wait is not None:
            self.seen.append(self._on_wait())
        self.called.set()
        if self._gate is not None:
            await self._gate.wait()
        await asyncio.sleep(0)


def chat_with_messages(store: Store, texts: Sequence[str], chat_id: int = CHAT) -> None:
    store.ensure_chat(chat_id, "private", "reader", times=("07:00",), timezone="UTC",
                      max_items=5, now=T0)
    store.queue_digest(chat_id, [], list(texts), T0)


def telegram_ids(store: Store) -> list[int | None]:
    rows = store._db.execute("SELECT telegram_message_id FROM outbox ORDER BY id")
    return [row[0] for row in rows.fetchall()]


def sent_texts(tg: FakeTelegram, chat_id: int = CHAT) -> list[str]:
    return [m["raw_text"] for m in tg.sent(chat_id)]


async def wait_all_sent(tg: FakeTelegram, store: Store) -> None:
    await tg.wait_for_async(lambda: all(m.status == SENT for m in store.outbox_messages()),
                            message="every outbox message sent")


def test_accepted_message_is_never_resent_while_recording_it_fails(
        fake_telegram: FakeTelegram, store_location: Path | str) -> None:
    tg = fake_telegram
    store = FlakyStore(store_location, mark_sent=3)
    chat_with_messages(store, ["one", "two"])
    sleep = FakeSleep(lambda: (len(tg.sent(CHAT)), store.outbox_messages()[0].status))

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            outbox = Outbox(bot, store, [ADMIN], sleep=sleep)
            outbox.start()
            await wait_all_sent(tg, store)
            await tg.wait_for_messages_async(ADMIN, 1)
            await outbox.stop()

    run(scenario())
    assert sent_texts(tg) == ["one", "two"]  # "one" went out once, and "two" after it
    assert sleep.waits[:3] == list(RECORD_BACKOFF[:3])
    # While "one" could not be recorded, delivery was paused: one call, row still sending.
    assert sleep.seen[:3] == [(1, SENDING)] * 3
    assert store.calls["mark_sent"] == 5
    assert [m.status for m in store.outbox_messages()] == [SENT, SENT]
    assert [m.attempts for m in store.outbox_messages()] == [1, 1]
    assert telegram_ids(store) == [m["message_id"] for m in tg.sent(CHAT)]
    [alert] = tg.sent(ADMIN)
    assert "could not record message" in alert["text"] and "disk is full" in alert["text"]


def test_nothing_is_sent_until_sending_is_recorded(fake_telegram: FakeTelegram,
                                                   store_location: Path | str) -> None:
    tg = fake_telegram
    store = FlakyStore(store_location, mark_sending=2)
    chat_with_messages(store, ["only"])
    sleep = FakeSleep(lambda: (len(tg.sent(CHAT)), store.outbox_messages()[0].status))

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            await Outbox(bot, store, [], sleep=sleep).drain()

    run(scenario())
    assert sleep.seen == [(0, PENDING), (0, PENDING)]
    assert sent_texts(tg) == ["only"]
    assert [(m.status, m.attempts) for m in store.outbox_messages()] == [(SENT, 1)]


def test_rejected_send_goes_back_to_pending(fake_telegram: FakeTelegram,
                                            store_location: Path | str) -> None:
    tg = fake_telegram
    tg.fail_next("sendMessage", retry_after=7, chat_id=CHAT)
    store = Store(store_location)
    chat_with_messages(store, ["one", "two"])
    sleep = FakeSleep(lambda: [m.status for m in store.outbox_messages()])

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            await Outbox(bot, store, [], sleep=sleep).drain()

    run(scenario())
    assert sleep.waits == [7.0]
    assert sleep.seen == [[PENDING, PENDING]]  # during Telegram's wait nothing is "sending"
    assert sent_texts(tg) == ["one", "two"]
    assert [(m.status, m.attempts) for m in store.outbox_messages()] == [(SENT, 2), (SENT, 1)]


def test_messages_left_sending_by_a_crash_are_sent_again_at_start(
        fake_telegram: FakeTelegram, store_location: Path | str,
        caplog: pytest.LogCaptureFixture) -> None:
    tg = fake_telegram
    store = Store(store_location)
    chat_with_messages(store, ["interrupted", "next"])
    assert store.mark_sending(store.outbox_messages()[0].id)  # then the process died
    assert store.pending_messages()[0].text == "next"

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            outbox = Outbox(bot, store, [], sleep=FakeSleep())
            outbox.start()
            await wait_all_sent(tg, store)
            await outbox.stop()

    with caplog.at_level(logging.WARNING, logger="bot.telegram.delivery"):
        run(scenario())
    assert sent_texts(tg) == ["interrupted", "next"]  # in their order
    assert [m.attempts for m in store.outbox_messages()] == [2, 1]
    assert "1 message(s) were being sent" in caplog.text


def test_stop_waits_for_an_accepted_message_to_be_recorded(fake_telegram: FakeTelegram,
                                                           store_location: Path | str) -> None:
    tg = fake_telegram
    store = FlakyStore(store_location, mark_sent=1)
    chat_with_messages(store, ["one", "two"])
    gate = asyncio.Event()
    sleep = FakeSleep(gate=gate)

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            outbox = Outbox(bot, store, [], sleep=sleep)
            outbox.start()
            await sleep.called.wait()  # "one" accepted, its record failed once
            stopping = asyncio.create_task(outbox.stop())
            await asyncio.sleep(0)
            assert not stopping.done()
            gate.set()
            await stopping

    run(scenario())
    assert sent_texts(tg) == ["one"]  # the stop came before "two"
    assert [m.status for m in store.outbox_messages()] == [SENT, PENDING]


def test_stop_cut_short_still_tries_the_record_once_more(
        fake_telegram: FakeTelegram, store_location: Path | str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "STOP_GRACE_SECONDS", 0)
    tg = fake_telegram
    store = FlakyStore(store_location, mark_sent=1)
    chat_with_messages(store, ["one"])
    sleep = FakeSleep(gate=asyncio.Event())  # never opened: only the stop ends the wait

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            outbox = Outbox(bot, store, [], sleep=sleep)
            outbox.start()
            await sleep.called.wait()
            await outbox.stop()

    run(scenario())
    assert sent_texts(tg) == ["one"]
    assert [m.status for m in store.outbox_messages()] == [SENT]


def test_forget_sent_texts_drops_only_old_delivered_texts(store_location: Path | str) -> None:
    store = Store(store_location)
    old, recent = T0 - timedelta(days=8), T0 - timedelta(days=6)
    store.ensure_chat(CHAT, "private", "reader", times=("07:00",), timezone="UTC",
                      max_items=5, now=old)
    store.queue_digest(CHAT, [], ["sent long ago", "sent lately", "failed long ago",
                                  "still pending", "being sent"], old)
    ids = [m.id for m in store.outbox_messages()]
    store.mark_sent(ids[0], 1, old)
    store.mark_sent(ids[1], 2, recent)
    store.mark_failed(ids[2], "Bad Request: x")
    store.mark_sending(ids[4])
    assert store.forget_sent_texts(T0 - timedelta(days=7)) == 2
    assert [m.text for m in store.outbox_messages()] == [
        "", "sent lately", "", "still pending", "being sent"]
    assert store.forget_sent_texts(T0 - timedelta(days=7)) == 0


def test_outbox_forgets_old_texts_at_most_hourly(fake_telegram: FakeTelegram,
                                                 store_location: Path | str) -> None:
    tg = fake_telegram
    store = FlakyStore(store_location, forget_sent_texts=1)
    chat_with_messages(store, ["hello"])
    now = [T0]
    cutoffs: list[datetime] = []
    original = store.forget_sent_texts

    def forget(before: datetime) -> int:
        cutoffs.append(before)
        return original(before)

    store.forget_sent_texts = forget  # type: ignore[method-assign]

    async def scenario() -> None:
        async with tg.make_bot() as bot:
            outbox = Outbox(bot, store, [], clock=lambda: now[0], sleep=FakeSleep())
            outbox.start()  # its first turn sends "hello", then looks (the store fails)
            await tg.wait_for_async(lambda: cutoffs, message="the first look for old texts")
            await outbox.stop()
            now[0] = T0 + timedelta(days=8)
            assert outbox.forget_old_texts() == 1
            now[0] += timedelta(minutes=59)
            assert outbox.forget_old_texts() == 0
            now[0] += timedelta(minutes=1)
            assert outbox.forget_old_texts() == 0  # nothing left to drop

    run(scenario())
    assert cutoffs == [T0 - timedelta(days=7), T0 + timedelta(days=1),
                       T0 + timedelta(days=1, hours=1)]
    assert [m.text for m in store.outbox_messages()] == [""]


def test_migrating_into_an_existing_chat_row_merges_them(store_location: Path | str) -> None:
    store = Store(store_location)
    old, new = -4001, -1004001
    feeds = [store.add_user_feed(f"https://example.com/{n}.xml", f"F{n}", T0) for n in (1, 2)]
    store.ensure_chat(old, "group", "Old", times=("07:30", "19:00"), timezone="Africa/Cairo",
                      max_items=7, now=T0)
    store.set_subscribed(old, True, T0)
    store.set_thread(old, 12)
    store.set_feed_excluded(old, feeds[0].id, True)
    for kind, word in (("include", "gaza"), ("alert", "flood")):
        store.add_chat_word(old, kind, word, T0)
    store.queue_digest(old, [1, 2], ["old digest"], T0, watermark=10, due=T0)
    # The supergroup wrote to the bot before the outbox learnt of the move.
    store.ensure_chat(new, "supergroup", "New", times=("09:00",), timezone="UTC",
                      max_items=5, now=T0)
    store.set_feed_excluded(new, feeds[1].id, True)
    for word in ("flood", "storm"):
        store.add_chat_word(new, "alert", word, T0)
    later = T0 + timedelta(hours=1)
    store.queue_digest(new, [2, 3], ["new digest"], later, watermark=12, due=later)
    words_before = store.chat_words(old)

    store.migrate_chat(old, new)

    assert store.get_chat(old) is None
    chat = store.get_chat(new)
    assert chat is not None
    assert (chat.type, chat.title, chat.subscribed, chat.times, chat.timezone,
            chat.max_items, chat.thread_id) == ("supergroup", "Old", True, ("07:30", "19:00"),
                                                "Africa/Cairo", 7, 12)
    assert (chat.watermark, chat.last_due_at, chat.last_digest_at) == (12, later, later)
    assert chat.excluded_feeds == {feeds[0].id, feeds[1].id}
    words = store.chat_words(new)
    assert words[:2] == words_before  # same ids: earlier remove buttons still work
    assert [(w.kind, w.word) for w in words[2:]] == [("alert", "storm")]
    assert store.stories_sent(new, [1, 2, 3, 4]) == {1, 2, 3}
    assert [m.text for m in store.outbox_messages(new)] == ["old digest", "new digest"]
    assert store.postgres or store.integrity_check() == "ok"


def test_migrating_a_chat_already_moved_changes_nothing(store_location: Path | str) -> None:
    store = Store(store_location)
    store.ensure_chat(-1004001, "supergroup", "New", times=("09:00",), timezone="UTC",
                      max_items=5, now=T0)
    store.migrate_chat(-4001, -1004001)  # e.g. a second message still addressed to the old id
    assert store.get_chat(-1004001) is not None


def test_failed_chat_messages_include_the_one_being_sent(store_location: Path | str) -> None:
    store = Store(store_location)
    chat_with_messages(store, ["one", "two"])
    first = store.outbox_messages()[0].id
    store.mark_sending(first)
    assert store.fail_pending_for_chat(CHAT, "blocked") == 2
    store.mark_pending(first)  # Telegram refused it after all: it stays failed
    assert [m.status for m in store.outbox_messages()] == [FAILED, FAILED]
    store.mark_sent(first, 99, T0)  # ...or accepted it: then it was sent
    assert [m.status for m in store.outbox_messages()] == [SENT, FAILED]
