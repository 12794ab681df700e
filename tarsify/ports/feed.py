"""The event feed: changes of an execution told to its watchers, in any process."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class FeedSubscription(Protocol):
    """Wake-ups for the changes of one execution."""

    async def wait(self, within_s: float) -> int | None:
        """Return when the execution may have changed: the newest version announced
        since the last call, or 0 when the adapter only knows it is time to look again
        (polling). None when ``within_s`` seconds passed without either."""
        ...


class ExecutionFeed(Protocol):
    """Tells watchers, in any process, that an execution changed."""

    async def announce(self, execution_id: uuid.UUID, version: int) -> None:
        """The change to ``version`` is committed: tell the watchers (an adapter whose
        database announces its changes itself, as they commit, does nothing here; a
        watcher re-reads until it sees ``version``)."""
        ...

    def subscribe(self, execution_id: uuid.UUID) -> AbstractAsyncContextManager[FeedSubscription]:
        """Listen for the execution's changes until the context ends."""
        ...
