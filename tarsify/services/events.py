"""Watching one execution: its state at once, then every newer state, until it is final.

``FeedListener`` (``tarsify.services.engine.feed_listener``) announces every stored
change on the ``ExecutionFeed`` once it is committed;
``ExecutionWatcher.watch`` waits on the feed and reads the execution again when it may
have changed. Changes closer together than a read are seen as one (the newest state),
never out of order: a state is shown only when its version is newer than the last one
shown.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from tarsify.domain.execution import ExecutionView
from tarsify.ports.feed import ExecutionFeed
from tarsify.services.engine.executions import ExecutionService

CATCH_UP_STEP_S = 0.02


@dataclass(slots=True, frozen=True)
class WatchSettings:
    """A heartbeat after ``heartbeat_s`` of quiet; whether the watcher left is checked
    every ``check_s``; an announced version is awaited at most ``catch_up_s``; with no
    announcement for ``refresh_s`` the execution is read as a status poll does (which
    asks the provider when due), so a stream moves on even where no reconciler runs."""

    heartbeat_s: float = 15.0
    check_s: float = 0.5
    catch_up_s: float = 1.0
    refresh_s: float = 1.0


class ExecutionWatcher:
    """Streams the states of a consumer's execution."""

    def __init__(
        self,
        executions: ExecutionService,
        feed: ExecutionFeed,
        settings: WatchSettings | None = None,
    ) -> None:
        self._executions = executions
        self._feed = feed
        self._settings = settings or WatchSettings()

    async def watch(
        self,
        consumer_id: uuid.UUID,
        execution_id: uuid.UUID,
        gone: Callable[[], bool] = lambda: False,
    ) -> AsyncGenerator[ExecutionView | None, None]:
        """The execution now (``ExecutionNotFound`` if it is not the consumer's), then
        each newer state, and None as a heartbeat after a quiet ``heartbeat_s``. Ends
        after a terminal state, or soon after ``gone()`` becomes true."""
        s = self._settings
        async with self._feed.subscribe(execution_id) as subscription:
            view = await self._executions.get(consumer_id, execution_id)
            yield view
            loop = asyncio.get_running_loop()
            quiet_since = refreshed = loop.time()
            while not view.execution.is_terminal and not gone():
                left = s.heartbeat_s - (loop.time() - quiet_since)
                if left <= 0:
                    yield None
                    quiet_since = loop.time()
                    continue
                woke = await subscription.wait(min(left, s.check_s))
                if woke is None:
                    if loop.time() - refreshed < s.refresh_s:
                        continue
                    woke = view.execution.version
                refreshed = loop.time()
                newer = await self._read(consumer_id, execution_id, woke)
                if newer.execution.version > view.execution.version:
                    view = newer
                    yield view
                    quiet_since = loop.time()

    async def _read(
        self, consumer_id: uuid.UUID, execution_id: uuid.UUID, announced: int
    ) -> ExecutionView:
        """The execution, read again until it shows the announced version (an
        announcement may come just before its transaction commits) or ``catch_up_s``."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._settings.catch_up_s
        view = await self._executions.get(consumer_id, execution_id)
        while view.execution.version < announced and loop.time() < give_up:
            await asyncio.sleep(CATCH_UP_STEP_S)
            view = await self._executions.get(consumer_id, execution_id)
        return view
