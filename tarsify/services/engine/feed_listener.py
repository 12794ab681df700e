"""The event feed's listener: every stored change of an execution announced on the
``ExecutionFeed`` once it is committed (watched by
``tarsify.services.events.ExecutionWatcher``)."""

from __future__ import annotations

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.feed import ExecutionFeed
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.listeners import Write


class FeedListener:
    """An ``ExecutionListener`` that announces each change on the feed (it never writes:
    a feed announces in the database's own way, a trigger, or in-process)."""

    def __init__(self, feed: ExecutionFeed) -> None:
        self._feed = feed

    async def plan_create(
        self, execution: Execution, target: RunTarget, request: RunRequest
    ) -> Write | None:
        """Nobody can watch an execution before it exists: nothing to announce."""
        return None

    async def plan_change(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> Write | None:
        """Nothing to write."""
        return None

    async def committed(self, after: Execution) -> None:
        """Announce the new version."""
        await self._feed.announce(after.id, after.version)
