"""Watchers by execution id, woken by what a feed hears: the fan-out of the in-process
feed (``adapters.memory.feed``) and of PostgreSQL's LISTEN (``adapters.sql.feed``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tarsify.ports.feed import FeedSubscription


class Subscription:
    """One watcher's wake-ups: the newest version announced since its last wait."""

    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout
        self._event = asyncio.Event()
        self._version = 0

    def wake(self, version: int) -> None:
        """Record an announcement (0: look again, whatever the version)."""
        self._version = max(self._version, version)
        self._event.set()

    async def wait(self, within_s: float) -> int | None:
        """See ``FeedSubscription.wait``."""
        poll_s = self._fanout.poll_s  # read each time: a feed may poll only while down
        limit = within_s if poll_s is None else min(within_s, poll_s)
        try:
            await asyncio.wait_for(self._event.wait(), limit)
        except TimeoutError:
            return 0 if poll_s is not None and poll_s <= within_s else None
        self._event.clear()
        version, self._version = self._version, 0
        return version


class Fanout:
    """Watchers by execution id."""

    def __init__(self, poll_s: float | None = None) -> None:
        self.poll_s = poll_s
        self._watchers: dict[uuid.UUID, set[Subscription]] = {}

    @property
    def watcher_count(self) -> int:
        """How many subscriptions are open (a disconnected client leaves none)."""
        return sum(len(s) for s in self._watchers.values())

    def wake(self, execution_id: uuid.UUID, version: int) -> None:
        """Wake the watchers of one execution."""
        for subscription in self._watchers.get(execution_id, ()):
            subscription.wake(version)

    def wake_all(self) -> None:
        """Make every watcher look again (after announcements may have been missed)."""
        for subscriptions in self._watchers.values():
            for subscription in subscriptions:
                subscription.wake(0)

    @asynccontextmanager
    async def subscribe(self, execution_id: uuid.UUID) -> AsyncIterator[FeedSubscription]:
        """A subscription, removed when the context ends."""
        subscription = Subscription(self)
        self._watchers.setdefault(execution_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            watchers = self._watchers.get(execution_id)
            if watchers is not None:
                watchers.discard(subscription)
                if not watchers:
                    del self._watchers[execution_id]
