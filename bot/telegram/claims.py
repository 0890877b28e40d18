"""This process's delivery claims: the chats whose messages it is sending now.

Two bot processes may deliver from one outbox (PostgreSQL). A lane claims its chat before
its first message (:meth:`bot.store.Store.claim_chat`), renews the claim when half of it
has passed, and gives it back when the chat's queue is empty; a chat claimed by another
process is left to it. So one chat's messages are never sent by two processes at once or
out of order, and a dead process's chats are taken over when its claims pass (at once on
the same machine, which can see that the process is gone).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.errors import StoreError
from bot.feed_leases import dead_here
from bot.store import Store

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(minutes=2)


class ChatClaims:
    """Claims held by ``owner`` (this process), with when each one passes."""

    def __init__(self, store: Store, owner: str, clock: Callable[[], datetime],
                 lease: timedelta = CLAIM_LEASE) -> None:
        self.owner = owner
        self._store = store
        self._clock = clock
        self._lease = lease
        self._until: dict[int, datetime] = {}

    def take(self, chat: int) -> bool:
        """Whether this process may send ``chat``'s next message (claimed or renewed now,
        or held for more than half a lease yet)."""
        now = self._clock()
        until = self._until.get(chat)
        if until is not None and until - now > self._lease / 2:
            return True
        if self._store.claim_chat(chat, self.owner, now, self._lease):
            self._until[chat] = now + self._lease
            return True
        self._until.pop(chat, None)
        return False

    def release(self, chat: int) -> None:
        """Give ``chat`` back (its queue is empty, or this process stops sending)."""
        if self._until.pop(chat, None) is None:
            return
        try:
            self._store.release_chat(chat, self.owner)
        except StoreError as exc:   # the claim passes by itself
            log.warning("could not give back the claim on chat %s: %s", chat, exc)

    def release_all(self) -> None:
        self._until.clear()
        try:
            self._store.release_chats(self.owner)
        except StoreError as exc:
            log.warning("could not give back delivery claims: %s", exc)

    def resume_interrupted(self) -> int:
        """Messages left "sending" by a process that died or stopped mid-send: those of dead
        processes of this machine at once, the others' once their claims have passed or
        were given back. Returns how many."""
        resumed = 0
        for owner in self._store.claim_owners():
            if dead_here(owner, self.owner):
                resumed += self._store.resume_dead_owner(owner)
        return resumed + self._store.resume_unclaimed_sending(self._clock())
