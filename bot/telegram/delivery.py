"""The outbox sender: delivers pending digest messages in order, exactly as stored.

A message is marked sent only after Telegram accepted it, so a crash or restart resumes the
pending ones and never re-sends accepted ones. Telegram's answers decide what happens next:
429 waits as told and retries; 403 or "chat not found" deactivates the chat; a migrated group
is followed to its new id; a forum topic that is gone sends the chat's messages to its General
topic (said there once); any other 400 marks the message failed, is logged with the chat and
message ids, and alerts the admins once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.models import OutboxMessage
from bot.store import Store

log = logging.getLogger(__name__)
IDLE_RECHECK_SECONDS = 30.0
MAX_NETWORK_BACKOFF = 60.0
UNREACHABLE = ("chat not found", "bot was kicked", "user is deactivated", "bot is not a member")
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_closed", "topic closed")
TOPIC_GONE_NOTICE = ("The topic these digests were posted in is gone, so they now arrive "
                     "here in General. An administrator can send /subscribe inside a topic "
                     "to move them there.")


def keyboard(buttons: str | None) -> InlineKeyboardMarkup | None:
    """An inline keyboard from the outbox's JSON (rows of {"text", "callback_data"})."""
    if not buttons:
        return None
    rows = json.loads(buttons)
    return InlineKeyboardMarkup([[InlineKeyboardButton(b["text"], callback_data=b["callback_data"])
                                  for b in row] for row in rows])


def retry_seconds(error: RetryAfter) -> float:
    """PTB gives retry_after as seconds or a timedelta, depending on version and settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Outbox:
    """A single background task that drains the outbox; ``notify()`` wakes it."""

    def __init__(self, bot: Bot, store: Store, admins: Sequence[int],
                 on_chat_change: Callable[[int], None] | None = None) -> None:
        self._bot = bot
        self._store = store
        self._admins = tuple(admins)
        self._on_chat_change = on_chat_change or (lambda _chat_id: None)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._alerted: set[str] = set()
        self._network_failures = 0
        self._alerts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="nashra-outbox")
        self.notify()

    def notify(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop between messages; a message being sent is abandoned and stays pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Send everything pending now (used by tests and one-shot commands)."""
        while pending := self._store.pending_messages():
            for message in pending:
                if not await self._deliver(message):
                    break

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # never let one bad turn stop delivery for good
                log.exception("outbox turn failed; retrying shortly")
                await asyncio.sleep(1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_RECHECK_SECONDS)

    async def _deliver(self, message: OutboxMessage) -> bool:
        """Try one message. False means "stop this pass and start over from the oldest"."""
        try:
            sent = await self._bot.send_message(
                message.chat_id, message.text, parse_mode=ParseMode.HTML,
                message_thread_id=message.thread_id, reply_markup=keyboard(message.buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.warning("Telegram asked to wait %.0fs (chat %s)", wait, message.chat_id)
            self._store.count_attempt(message.id)
            await asyncio.sleep(wait)
            return False
        except ChatMigrated as exc:
            self._store.migrate_chat(message.chat_id, exc.new_chat_id)
            self._on_chat_change(exc.new_chat_id)
            return False
        except Forbidden as exc:
            self._deactivate(message.chat_id, f"Telegram refused: {exc.message}")
            return False
        except BadRequest as exc:
            return self._bad_request(message, exc)
        except NetworkError as exc:
            await self._network_backoff(message, exc)
            return False
        self._network_failures = 0
        self._store.mark_sent(message.id, sent.message_id, datetime.now(UTC))
        return True

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
        self._alert_admins_once(exc.message, (
            f"Nashra could not deliver message {message.id} to chat {message.chat_id}: "
            f"{exc.message}. It was marked failed; later messages continue."))
        return True

    def _topic_gone(self, message: OutboxMessage, error: str) -> None:
        """The forum topic was deleted or closed: post in General from now on, say so once."""
        log.warning("chat %s: topic %s gone (%s); delivering to General", message.chat_id,
                    message.thread_id, error)
        self._store.clear_thread(message.chat_id)
        self._on_chat_change(message.chat_id)
        self._store.queue_digest(message.chat_id, [], [TOPIC_GONE_NOTICE], datetime.now(UTC),
                                 kind="notice")
        self._alert_admins_once(f"topic:{message.chat_id}", (
            f"Chat {message.chat_id}: the forum topic {message.thread_id} its digests went to "
            f"is gone ({error}); they now go to the chat's General topic."))

    def _deactivate(self, chat_id: int, reason: str) -> None:
        log.warning("chat %s deactivated: %s", chat_id, reason)
        self._store.set_subscribed(chat_id, False, datetime.now(UTC), reason=reason)
        self._store.fail_pending_for_chat(chat_id, reason)
        self._on_chat_change(chat_id)

    async def _network_backoff(self, message: OutboxMessage, exc: NetworkError) -> None:
        self._network_failures += 1
        wait = min(2.0 ** self._network_failures, MAX_NETWORK_BACKOFF)
        log.warning("network error sending message %s (%s); retry in %.0fs",
                    message.id, exc.message, wait)
        self._store.count_attempt(message.id)
        await asyncio.sleep(wait)

    def _alert_admins_once(self, key: str, text: str) -> None:
        """Tell the bot's admins about ``key`` once per process (not once per message)."""
        if key in self._alerted or not self._admins:
            return
        self._alerted.add(key)
        for admin in self._admins:
            task = asyncio.create_task(self._alert(admin, text))
            self._alerts.add(task)
            task.add_done_callback(self._alerts.discard)

    async def _alert(self, admin: int, text: str) -> None:
        try:
            await self._bot.send_message(admin, text)
        except Exception as exc:  # an alert must never break delivery
            log.warning("could not alert admin %s: %s", admin, exc)
