"""The event feed's listener: every stored change of an execution announced on the
``ExecutionFeed`` inside the change's transaction (watched by
``tarsify.services.events.ExecutionWatcher``)."""

from __future__ import annotations

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.feed import ExecutionFeed
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory


class FeedListener:
    """An ``ExecutionListener`` that announces each change on the feed."""

    def __init__(self, feed: ExecutionFeed) -> None:
        self._feed = feed

    async def created(
        self, uow: UnitOfWork, execution: Execution, target: RunTarget, request: RunRequest
    ) -> None:
        """Nobody can watch an execution before it exists: nothing to announce."""

    async def changed(self, uow: UnitOfWork, before: Execution, after: Execution) -> None:
        """Announce the new version."""
        await self._feed.announce(uow, after.id, after.version)

    def writes_on_create(self, execution: Execution, request: RunRequest) -> bool:
        """Never."""
        return False

    def writes_on(self, before: Execution, after: Execution) -> bool:
        """Never: a feed announces in the database's own way (a trigger) or in-process."""
        return False

    async def will_write(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> bool:
        """Never."""
        return False
