"""Reading the jobs this process holds open as soon as they have news.

A ``HeldStreamProvider`` announces each job it holds (fal's ``fal.run`` streams) when
chunks arrived or it ended, and every ``HELD_HEARTBEAT_S`` while it lives. For each
announcement ``HeldStreamPump`` finds the execution the job belongs to and reads its
stream (storing the chunks, renewing the lease this process keeps on it, recording the
end). A job whose execution ended meanwhile (cancelled or past its deadline, perhaps by
another process, which cannot reach the connection) is closed here. A job not recorded
yet (its submit's answer is being stored) is read at its next announcement.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from tarsify.domain.errors import GpuProviderError
from tarsify.domain.execution import Execution
from tarsify.ports.provider import HeldStreamProvider
from tarsify.ports.storage import UnitOfWorkFactory

log = logging.getLogger("tarsify.engine")

ReadStream = Callable[[Execution], Awaitable[Execution]]


class HeldStreamPump:
    """Consumes a provider's announcements of held jobs (``run``, until cancelled)."""

    def __init__(
        self, uow: UnitOfWorkFactory, provider: HeldStreamProvider, read_stream: ReadStream
    ) -> None:
        self._uow = uow
        self._provider = provider
        self._read_stream = read_stream

    async def run(self) -> None:
        """Handle every announcement; a failure is logged and the next one handled."""
        async for endpoint_id, job_id in self._provider.news():
            try:
                await self.handle(endpoint_id, job_id)
            except Exception:
                log.exception("execution.held_stream_failed", extra={"job_id": job_id})

    async def handle(self, endpoint_id: str, job_id: str) -> Execution | None:
        """Read the held job's stream, or close it when its execution has ended; the
        execution as it is then (None when no execution has the job yet)."""
        async with self._uow() as uow:
            execution_id = await uow.executions.holder_of_job(job_id)
            execution = None if execution_id is None else await uow.executions.get(execution_id)
        if execution is None:
            return None
        if execution.is_terminal:
            # Ended by itself meanwhile, or no longer held here: nothing to close.
            with contextlib.suppress(GpuProviderError):
                await self._provider.cancel(endpoint_id, job_id)
            return execution
        return await self._read_stream(execution)
