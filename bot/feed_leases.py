"""The feeds one refresh holds: claimed under a lease, renewed while it runs, given back.

Every refresh leases the feeds it is about to fetch (:meth:`bot.store.Store.claim_feeds`),
so two processes on one database never fetch, translate and store one feed at once: a
``nashra fetch`` while ``nashra run`` refreshes, or any number of ``nashra worker``
processes on PostgreSQL. A refresh longer than the lease renews it every third of the lease;
a process killed in the middle stops renewing, and its feeds are taken over once the lease
has passed, or at once by a process on the same machine, which can see the dead one is gone
(:func:`dead_here`): a restart after a crash does not wait for its own old leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from types import TracebackType

from bot.errors import StoreError
from bot.models import FeedState
from bot.refresh_windows import write
from bot.store import Store

log = logging.getLogger(__name__)
DEFAULT_LEASE = timedelta(minutes=10)


@functools.cache
def process_name() -> str:
    """This process's name in leases and claims (the same for all its refreshes and its
    outbox): host, pid and a random part (a pid is reused after a restart; a lease of the
    old process must not look like the new one's)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def dead_here(owner: str, me: str) -> bool:
    """Whether ``owner`` names a process of this machine that no longer runs: its pid is
    gone, or is this process's own pid under another name (a container restarted with
    the same pid)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if owner == me or host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, under another user
        return False
    return False


@dataclass(frozen=True)
class FeedClaim:
    """How a refresh takes its share of the due feeds.

    ``limit``: at most this many feeds a refresh (a worker takes a share and comes back for
    more, leaving the rest to other workers); None takes every due feed. ``min_age``: a feed
    fetched less than this long ago is not due yet (workers refresh continuously; the
    all-in-one bot refreshes on its own schedule and leaves it at zero).
    """

    owner: str = field(default_factory=process_name)
    lease: timedelta = DEFAULT_LEASE
    limit: int | None = None
    min_age: timedelta = timedelta(0)


class HeldFeeds:
    """The feeds leased by one refresh (an async context: released when it ends)."""

    def __init__(self, store: Store, claim: FeedClaim) -> None:
        self._store = store
        self._claim = claim
        self._held: list[int] = []
        self._renewing: asyncio.Task[None] | None = None

    async def claim(self, due: Sequence[FeedState], now: datetime,
                    force: bool) -> list[FeedState]:
        """The due feeds this refresh now holds; those another process holds are left out."""
        claim = self._claim
        await self._free_dead_leases()
        limit = claim.limit if claim.limit is not None else len(due)
        held = await write(partial(
            self._store.claim_feeds, [feed.id for feed in due], claim.owner, now, claim.lease,
            limit, fetched_before=now - claim.min_age, force=force))
        self._held = held
        if held and self._renewing is None:
            self._renewing = asyncio.create_task(self._renew(), name="nashra-feed-leases")
        chosen = set(held)
        return [feed for feed in due if feed.id in chosen]

    async def _free_dead_leases(self) -> None:
        """Take back at once the leases of processes of this machine that are gone."""
        for owner in self._store.lease_owners():
            if dead_here(owner, self._claim.owner):
                released = await write(partial(self._store.release_owner, owner))
                log.info("%d feed lease(s) of %s, which is no longer running, given back",
                         released, owner)

    async def __aenter__(self) -> HeldFeeds:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        if self._held:
            try:
                await write(partial(self._store.release_feeds, self._claim.owner, self._held))
            except StoreError as exc:   # the leases pass by themselves
                log.warning("could not give back %d feed lease(s): %s", len(self._held), exc)

    async def _renew(self) -> None:
        every = self._claim.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            until = datetime.now(UTC) + self._claim.lease
            try:
                await write(partial(self._store.renew_leases, self._claim.owner, until))
            except StoreError as exc:   # tried again a third of a lease later
                log.warning("could not renew feed leases: %s", exc)
