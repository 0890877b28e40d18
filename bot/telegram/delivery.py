"""The outbox sender: delivers pending digest messages in order, exactly as stored.

Each message goes pending -> sending -> sent (or failed). It is marked "sending" in its own
short transaction before Telegram is called, and "sent" (with Telegram's message id) only
after Telegram accepted it. A message Telegram accepted is never sent again by this process:
if recording it fails (disk full, database locked), the accepted result is kept in memory,
delivery pauses and the record is retried with back-off until it is stored. If marking
"sending" fails, nothing is sent until it succeeds.

The one window no bot can close: the process dies after Telegram accepted a message and before
it was recorded. That row is still "sending" at the next start and is sent again (one possible
duplicate); a clean stop first finishes the send in progress, so only a crash leaves one.

Telegram's answers decide what happens next: 429 waits as told and retries; 403 or "chat not
found" deactivates the chat; a migrated group is followed to its new id; a forum topic that is
gone sends the chat's messages to its General topic (said there once); any other 400 marks the
message failed, is logged with the chat and message ids, and alerts the admins once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot import metrics
from bot.errors import StoreError
from bot.feed_leases import process_name
from bot.i18n import N_, language_for, translation
from bot.models import OutboxMessage
from bot.store import Store
from bot.store.chats import PENDING
from bot.telegram.claims import ChatClaims
from bot.telegram.lanes import FloodWatch, Lanes
from bot.telegram.limits import BULK, BulkStopped, TelegramLimits, retry_seconds

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_RECHECK_SECONDS = 30.0
RESCAN_EVERY = timedelta(seconds=30)   # the whole queue is read again at least this often
MAX_LANES = 128        # chats in flight at once: enough to keep 30 messages a second going
SCAN_BATCH = 500       # queue entries read at a time
MAX_NETWORK_BACKOFF = 60.0
# Waits between attempts to record an outcome while the store fails; the last one repeats.
RECORD_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# How long a clean stop waits for a send in progress to be answered and recorded.
STOP_GRACE_SECONDS = 10.0
KEEP_SENT_TEXT = timedelta(days=7)     # delivered texts are dropped after this
FORGET_EVERY = timedelta(hours=1)      # how often the outbox looks for such texts
UNREACHABLE = ("chat not found", "bot was kicked", "user is deactivated", "bot is not a member")
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_closed", "topic closed")
TOPIC_GONE_NOTICE = N_("The topic these digests were posted in is gone, so they now arrive "
                       "here in General. An administrator can send /subscribe inside a topic "
                       "to move them there.")
STORE_FAILING = N_("Nashra could not record %(what)s: %(error)s. Delivery is paused until "
                   "the database accepts writes again.")
UNDELIVERABLE = N_("Nashra could not deliver message %(message)s to chat %(chat)s: "
                   "%(error)s. It was marked failed; later messages continue.")
TOPIC_GONE_ALERT = N_("Chat %(chat)s: the forum topic %(topic)s its digests went to is gone "
                      "(%(error)s); they now go to the chat's General topic.")


def keyboard(buttons: str | None) -> InlineKeyboardMarkup | None:
    """An inline keyboard from the outbox's JSON (rows of {"text", "callback_data"})."""
    if not buttons:
        return None
    rows = json.loads(buttons)
    return InlineKeyboardMarkup([[InlineKeyboardButton(b["text"], callback_data=b["callback_data"])
                                  for b in row] for row in rows])


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Drains the outbox with up to ``lanes`` chats in flight; ``notify()`` wakes it.

    Each chat has one lane: its messages go one at a time, oldest first, so a digest
    arrives in order, while other chats' lanes go on. Pacing within Telegram's limits is
    the bot's rate limiter's job (``limits.TelegramLimits``); sends are marked BULK so a
    reply to a reader is let through first. A 429 holds only the chat it names, unless
    ``FLOOD_CHATS`` different chats are told to wait within ``FLOOD_WINDOW`` seconds:
    that is a flood wait for the whole bot, and every lane pauses.

    ``clock`` and ``sleep`` are injectable so tests control time instead of waiting on it.
    """

    def __init__(self, bot: Bot, store: Store, admins: Sequence[int],
                 on_chat_change: Callable[[int], None] | None = None, *,
                 clock: Callable[[], datetime] = _utc_now,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 lanes: int = MAX_LANES, owner: str | None = None) -> None:
        self._bot = bot
        self._store = store
        self._admins = tuple(admins)
        self._on_chat_change = on_chat_change or (lambda _chat_id: None)
        self._clock = clock
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._alerted: set[str] = set()
        self._network_failures = 0
        self._alerts: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._unsettled = 0  # sends unanswered or unrecorded
        self._settled = asyncio.Event()
        self._settled.set()
        self._recording = asyncio.Event()  # clear while an outcome cannot be recorded
        self._recording.set()
        self._failing_records = 0
        self._last_forget: datetime | None = None
        self._lanes = Lanes(lanes)
        self._max_lanes = lanes
        self._claims = ChatClaims(store, owner or process_name(), clock)
        self.sent = 0   # messages Telegram accepted from this process since it started
        self._last_rescan = clock()
        self._lane_tasks: dict[int, asyncio.Task[None]] = {}
        self._flood = FloodWatch()
        # Outbox sends yield to replies in the bot's rate limiter (a plain Bot has none).
        self._bulk: dict[str, Any] = {"rate_limit_args": BULK} if isinstance(bot, ExtBot) else {}

    def start(self) -> None:
        self._stopping = False
        if (limiter := self._limiter()) is not None:
            limiter.stop_bulk(False)
        self._task = asyncio.create_task(self._run(), name="nashra-outbox")
        self.notify()

    def notify(self) -> None:
        self._wake.set()

    def set_share(self, share: float) -> None:
        """Deliver at ``share`` of Telegram's overall rate, with as few chats in flight (a
        stand-by beside a leader: it takes few chats, so none waits long behind it)."""
        self._lanes.limit = max(1, round(self._max_lanes * share))
        if (limiter := self._limiter()) is not None:
            limiter.set_bulk_share(share)

    def _limiter(self) -> TelegramLimits | None:
        limiter = getattr(self._bot, "rate_limiter", None)
        return limiter if isinstance(limiter, TelegramLimits) else None

    async def stop(self) -> None:
        """Stop between messages. Sends in progress are first answered and recorded (for up
        to STOP_GRACE_SECONDS), so a clean stop leaves nothing "sending" to resend at start;
        past that, a record still failing gets one last try (see ``_record``)."""
        if self._task is None and not self._lane_tasks:
            return
        self._stopping = True
        if (limiter := self._limiter()) is not None:
            limiter.stop_bulk()   # sends still waiting for a turn go back to pending
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), STOP_GRACE_SECONDS)
        for tasks in (list(self._lane_tasks.values()), [self._task] if self._task else []):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._claims.release_all()
        log.info("outbox stopped: %d messages sent since start", self.sent)

    async def drain(self) -> None:
        """Send everything pending now (used by tests and one-shot commands)."""
        while not self._stopping:
            self._dispatch()
            if not self._lane_tasks:
                return
            await asyncio.wait(list(self._lane_tasks.values()))

    def forget_old_texts(self) -> int:
        """Drop the text of messages delivered over KEEP_SENT_TEXT ago; at most hourly."""
        now = self._clock()
        if self._last_forget is not None and now - self._last_forget < FORGET_EVERY:
            return 0
        self._last_forget = now
        try:
            forgotten = self._store.forget_sent_texts(now - KEEP_SENT_TEXT)
        except StoreError as exc:  # housekeeping: try again in an hour
            log.warning("could not drop old outbox texts: %s", exc)
            return 0
        if forgotten:
            log.info("dropped the text of %d delivered message(s)", forgotten)
        return forgotten

    async def _run(self) -> None:
        await self._record("interrupted sends", self._resume_interrupted)
        while True:
            self._wake.clear()
            try:
                self._dispatch()
                self.forget_old_texts()
            except Exception:  # never let one bad turn stop delivery for good
                log.exception("outbox turn failed; retrying shortly")
                await self._sleep(1.0)
                continue
            try:  # asyncio.timeout, unlike wait_for on 3.11, never swallows a cancel
                async with asyncio.timeout(IDLE_RECHECK_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                self._lanes.rescan()  # a quiet moment: look at the whole queue again

    def _dispatch(self) -> None:
        """Read more of the queue if lanes are free, and start a lane per waiting chat."""
        if self._stopping:
            return
        if self._clock() - self._last_rescan > RESCAN_EVERY:
            # chats another process was sending to may have been given up meanwhile, and
            # a process that stopped mid-send may have left messages "sending"
            self._last_rescan = self._clock()
            self._resume_interrupted()
            self._lanes.rescan()
        if self._lanes.wants_more():
            self._lanes.add(self._store.pending_after(self._lanes.cursor, SCAN_BATCH))
        while (chat := self._lanes.next_chat()) is not None:
            self._lane_tasks[chat] = asyncio.create_task(self._lane(chat),
                                                         name=f"nashra-outbox-{chat}")

    async def _lane(self, chat: int) -> None:
        """One chat's messages, in order, one at a time, while this process holds the
        chat's claim (another process sending to it keeps them)."""
        try:
            while not self._stopping and (message_id := self._lanes.head(chat)) is not None:
                await self._clear_to_send()
                if not await self._record(f"the claim on chat {chat}",
                                          lambda: self._claims.take(chat)):
                    self._lanes.forget(chat)
                    break
                message = await self._record(f"reading message {message_id}",
                                             lambda: self._store.outbox_message(message_id))
                if message is None or message.status != PENDING or await self._deliver(
                        message):
                    self._lanes.done(chat, message_id)
        finally:
            self._lane_tasks.pop(chat, None)
            self._lanes.close(chat)
            if self._lanes.head(chat) is None:
                self._claims.release(chat)
            self._wake.set()

    async def _clear_to_send(self) -> None:
        """Wait while an outcome is unrecorded or the whole bot is told to wait."""
        while True:
            await self._recording.wait()
            wait = self._flood.remaining()
            if wait <= 0:
                return
            await self._sleep(wait)

    def _resume_interrupted(self) -> int:
        """Rows still "sending" were cut off by a crash: Telegram may or may not have them.
        They are sent again, the one duplicate a bot cannot rule out."""
        resumed = self._claims.resume_interrupted()
        if resumed:
            log.warning("%d message(s) were being sent when Nashra stopped; sending them "
                        "again (a chat may see one of them twice)", resumed)
        return resumed

    async def _deliver(self, message: OutboxMessage) -> bool:
        """Try one message. False means "try this message again" (after a wait, a migration
        or a deactivation, which the next try sees)."""
        if self._stopping:   # a lane woken from a wait after stop() began sends no more
            return False
        if not await self._record(f"message {message.id} as sending",
                                  lambda: self._store.mark_sending(message.id)):
            return True  # no longer pending: handled meanwhile (e.g. its chat deactivated)
        self._unsettled += 1
        self._settled.clear()
        settled = False
        try:
            sent = await self._send(message)
            # Accepted: from here on the message is only recorded, never sent again.
            accepted = self._clock()
            self.sent += 1
            metrics.message_sent()
            self._network_failures = 0
            await self._record(f"message {message.id} as sent (Telegram id {sent.message_id})",
                               lambda: self._store.mark_sent(message.id, sent.message_id,
                                                             accepted))
        except BulkStopped:   # never sent; _send put it back to pending
            return False
        except TelegramError as exc:
            settled = self._settle()  # a stop need not wait through a 429 or a back-off
            return await self._rejected(message, exc)
        finally:
            if not settled:
                self._settle()
        return True

    def _settle(self) -> bool:
        self._unsettled -= 1
        if self._unsettled == 0:
            self._settled.set()
        return True

    async def _send(self, message: OutboxMessage) -> Message:
        """One sendMessage call. If Telegram did not take it, the row goes back to pending
        (before anything else, so it is retried in order) and the error is raised."""
        try:
            return await self._bot.send_message(
                message.chat_id, message.text, parse_mode=ParseMode.HTML,
                message_thread_id=message.thread_id, reply_markup=keyboard(message.buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                **self._bulk)
        except Exception:
            await self._record(f"message {message.id} as pending",
                               lambda: self._store.mark_pending(message.id))
            raise

    async def _rejected(self, message: OutboxMessage, exc: TelegramError) -> bool:
        metrics.send_refused(type(exc).__name__)
        if isinstance(exc, RetryAfter):
            await self._told_to_wait(message.chat_id, retry_seconds(exc))
            return False
        if isinstance(exc, ChatMigrated):
            self._store.migrate_chat(message.chat_id, exc.new_chat_id)
            self._on_chat_change(exc.new_chat_id)
            return False
        if isinstance(exc, Forbidden):
            self._deactivate(message.chat_id, f"Telegram refused: {exc.message}")
            return False
        if isinstance(exc, BadRequest):
            return self._bad_request(message, exc)
        if isinstance(exc, NetworkError):
            await self._network_backoff(message, exc)
            return False
        raise exc

    async def _record(self, what: str, write: Callable[[], T]) -> T:
        """Run one store write until it succeeds. Delivery is paused meanwhile: no lane
        sends anything while an outcome is unrecorded."""
        failures = 0
        try:
            while True:
                try:
                    return write()
                except StoreError as exc:
                    wait = RECORD_BACKOFF[min(failures, len(RECORD_BACKOFF) - 1)]
                    if failures == 0:
                        self._failing_records += 1
                        self._recording.clear()
                    failures += 1
                    log.error("could not record %s (%s); delivery paused, retry in %.1fs",
                              what, exc, wait)
                    self._alert_admins_once("store", STORE_FAILING,
                                            {"what": what, "error": str(exc)})
                try:
                    await self._sleep(wait)
                except asyncio.CancelledError:
                    self._last_try(what, write)
                    raise
        finally:
            if failures:
                self._failing_records -= 1
                if self._failing_records == 0:
                    self._recording.set()

    @staticmethod
    def _last_try(what: str, write: Callable[[], object]) -> None:
        """Stopping while a record is retried: one more try before the process goes."""
        try:
            write()
        except StoreError as exc:
            log.error("stopping without recording %s (%s); the message is sent again at the "
                      "next start", what, exc)

    async def _told_to_wait(self, chat_id: int, wait: float) -> None:
        """A 429: this chat's lane waits; if several chats were told to wait at once, it is
        the whole bot's flood wait and every lane (and the rate limiter) pauses too."""
        if self._flood.told(chat_id, wait):
            log.warning("Telegram flood wait of %.0fs for the whole bot", wait)
            if (limiter := self._limiter()) is not None:
                limiter.pause(wait)
        else:
            log.warning("Telegram asked to wait %.0fs for chat %s", wait, chat_id)
        await self._sleep(wait)

    def _bad_request(self, message: OutboxMessage, exc: BadRequest) -> bool:
        text = exc.message.lower()
        if any(reason in text for reason in UNREACHABLE):
            self._deactivate(message.chat_id, f"Telegram refused: {exc.message}")
            return False
        if message.thread_id is not None and any(r in text for r in TOPIC_GONE):
            self._topic_gone(message, exc.message)
            return False
        log.error("message %s to chat %s failed: %s", message.id, message.chat_id, exc.message)
        self._store.mark_failed(message.id, exc.message)
        self._alert_admins_once(exc.message, UNDELIVERABLE, {
            "message": message.id, "chat": message.chat_id, "error": exc.message})
        return True

    def _topic_gone(self, message: OutboxMessage, error: str) -> None:
        """The forum topic was deleted or closed: post in General from now on, say so once."""
        log.warning("chat %s: topic %s gone (%s); delivering to General", message.chat_id,
                    message.thread_id, error)
        self._store.clear_thread(message.chat_id)
        self._on_chat_change(message.chat_id)
        notice = self._texts(message.chat_id)(TOPIC_GONE_NOTICE)
        self._store.queue_digest(message.chat_id, [], [notice], self._clock(), kind="notice")
        self._alert_admins_once(f"topic:{message.chat_id}", TOPIC_GONE_ALERT, {
            "chat": message.chat_id, "topic": message.thread_id, "error": error})

    def _deactivate(self, chat_id: int, reason: str) -> None:
        log.warning("chat %s deactivated: %s", chat_id, reason)
        self._store.set_subscribed(chat_id, False, self._clock(), reason=reason)
        self._store.fail_pending_for_chat(chat_id, reason)
        self._on_chat_change(chat_id)

    async def _network_backoff(self, message: OutboxMessage, exc: NetworkError) -> None:
        self._network_failures += 1
        wait = min(2.0 ** self._network_failures, MAX_NETWORK_BACKOFF)
        log.warning("network error sending message %s (%s); retry in %.0fs",
                    message.id, exc.message, wait)
        await self._sleep(wait)

    def _alert_admins_once(self, key: str, message: str, values: dict[str, object]) -> None:
        """Tell the bot's admins about ``key`` once per process (not once per message);
        ``message`` (an N_ string) is translated into each admin's language."""
        if key in self._alerted or not self._admins:
            return
        self._alerted.add(key)
        for admin in self._admins:
            task = asyncio.create_task(self._alert(admin, message, values))
            self._alerts.add(task)
            task.add_done_callback(self._alerts.discard)

    async def _alert(self, admin: int, message: str, values: dict[str, object]) -> None:
        try:
            await self._bot.send_message(admin, self._texts(admin)(message) % values)
        except Exception as exc:  # an alert must never break delivery
            log.warning("could not alert admin %s: %s", admin, exc)

    def _texts(self, chat_id: int) -> Callable[[str], str]:
        """The gettext of a chat's language; English when the store cannot tell (an alert
        that the database fails must still go out)."""
        try:
            chat = self._store.get_chat(chat_id)
        except StoreError:
            chat = None
        return translation(language_for(chat.language if chat else None)).gettext
