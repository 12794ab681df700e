"""Reading a streaming job's output as it is produced: one reader at a time, every chunk
stored in order.

A provider's stream is consumed on read (RunPod's ``/stream``: a chunk read by one
caller is gone for every other), so two processes must never read one job's stream at
once: each read takes a lease on the execution (``StreamChunkRepository.claim_reader``),
reads, and stores what it got with a change that counts the chunks, in one transaction
that also gives the lease back — refused (the chunks dropped, never stored out of order)
when the lease was lost meanwhile. When the stream says the job ended, its final status
and output are read with ``status``: the output is the worker's aggregate, or else the
list of the stored chunks.

A chunk that holds files (a data URI, a provider's URL: a diffusion preview) is stored
with references to the blob store in their place, like any output. While the blob store
is down, the chunks read (gone from the provider) are held with the lease
(``StreamChunkRepository.held``) and stored before any later chunk; a job that ends with
chunks held is not recorded as finished until they are stored. Progress (RunPod's
``/status`` while the job runs; ``/status`` consumes nothing) is read at the poll
cadence by ``progress``, which never records the job's end: that is the stream's to say,
once every chunk is read.

A job held open by the process that sent it (``HeldStreamProvider``: fal's ``fal.run``
streams) can only be read there. That process takes the lease as the job is sent
(``hold``) and keeps it, renewed by each read (the provider announces a held job at least
every ``HELD_HEARTBEAT_S``), under a token of its own: no other process asks about the
job while it lives. Once the holder is gone its lease expires, the next reader takes it,
the provider does not know the job, and it fails JOB_LOST (never charged).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from tarsify.domain.errors import BlobStoreUnavailable, GpuProviderError, ProviderJobNotFound
from tarsify.domain.execution import Execution
from tarsify.domain.failures import Failure
from tarsify.domain.file_detect import find_files
from tarsify.domain.files import ExecutionFile, FileRecord
from tarsify.domain.jobs import JobReport
from tarsify.domain.jsonsafe import json_safe
from tarsify.domain.models import BaseModel, ExecutionStatus
from tarsify.domain.streams import aggregate, chunks_after
from tarsify.ports.clock import Clock
from tarsify.ports.provider import HeldStreamProvider, StreamingGpuProvider
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.engine.changes import Also, Decision
from tarsify.services.engine.listeners import Write
from tarsify.services.files import OutputFiles

log = logging.getLogger("tarsify.engine")
# How long a reader may hold a job's stream unless told (``EngineSettings.stream_lease_s``).
LEASE_S = 60.0
MAX_AGGREGATED_CHUNKS = 100_000

Store = Callable[[uuid.UUID, Decision, Also], Awaitable[tuple[Execution, bool]]]
Record = Callable[[Execution, JobReport], Awaitable[Execution]]
BaseOf = Callable[[Execution], Awaitable[BaseModel | None]]


class StreamLeaseLost(Exception):
    """The lease expired and another reader took it: this reader's chunks are dropped."""


class StreamReading:
    """Reads a streaming job's chunks (``read``) and records its end."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        provider: StreamingGpuProvider,
        clock: Clock,
        store: Store,
        record: Record,
        files: OutputFiles | None = None,
        base_of: BaseOf | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        self._uow = uow
        self._provider = provider
        self._clock = clock
        self._store = store
        self._record = record
        self._files = files
        self._base_of = base_of
        self._lease = timedelta(seconds=lease_s)
        # The token of the leases this process keeps on the jobs it holds open.
        self._holder = uuid.uuid4().hex
        held = provider if isinstance(provider, HeldStreamProvider) else None
        self._held_provider: HeldStreamProvider | None = held

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """True when the job is a connection this process holds open."""
        held = self._held_provider
        return held is not None and held.holds(endpoint_id, job_id)

    async def hold(self, execution_id: uuid.UUID) -> bool:
        """Take the lease of a job this process just opened, before its id is stored (no
        other process may ask about it first); False if another reader has it."""
        now = self._clock.now()
        async with self._uow() as uow:
            taken = await uow.chunks.claim_reader(
                execution_id, self._holder, now, now + self._lease
            )
            await uow.commit()
        return taken

    async def read(self, execution: Execution, endpoint_id: str) -> Execution:
        """Read the chunks yielded since the last read and store them; record the end of
        the job when the stream says it ended. Another reader at work: nothing happens.
        The lease of a job this process holds open is kept (renewed) until it ends."""
        job_id = execution.provider_job_id
        if execution.is_terminal or job_id is None:
            return execution
        keep = self.holds(endpoint_id, job_id)
        token = self._holder if keep else uuid.uuid4().hex
        held = await self._claim(execution.id, token)
        if held is None:
            return execution
        unstored = False
        try:
            report = await self._provider.stream(endpoint_id, job_id)
            keep = keep and not report.is_final
            values = [*held, *report.chunks]
            if values:
                execution, unstored = await self._store_chunks(execution, values, token, keep)
        except ProviderJobNotFound:
            report = JobReport(job_id=job_id, status="UNKNOWN")
            now = self._clock.now()
            stored, _ = await self._store(
                execution.id, lambda e: e.fail(Failure.JOB_LOST, now), _nothing
            )
            return stored
        except GpuProviderError as exc:
            log.warning(
                "execution.stream_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        finally:
            if not keep:
                await self._release(execution.id, token)
        if report.is_final and unstored:
            # Not finished until its chunks are stored: shown why it waits.
            now = self._clock.now()
            stored, _ = await self._store(
                execution.id, lambda e: e.files_unstored(job_id, now), _nothing
            )
            return stored
        if report.is_final:
            return await self._finish(execution, endpoint_id, job_id)
        if report.execution_status not in (None, execution.status):
            return await self._record(execution, dataclasses.replace(report, chunks=()))
        return execution

    async def progress(self, execution: Execution, endpoint_id: str) -> Execution:
        """Record the running job's progress from ``status`` (and its start); its end is
        left to the stream, which says it once every chunk is read. Provider failures
        change nothing (the next poll asks again)."""
        job_id = execution.provider_job_id
        if execution.is_terminal or job_id is None:
            return execution
        try:
            report = await self._provider.status(endpoint_id, job_id)
        except GpuProviderError:
            return execution  # a lost job is the stream read's to tell
        if report.is_final:
            # Ended, maybe with chunks still unread: only the progress it last gave.
            report = JobReport(job_id=report.job_id, status="", progress=report.progress)
        return await self._record(execution, dataclasses.replace(report, output=None))

    async def _claim(self, execution_id: uuid.UUID, token: str) -> list[Any] | None:
        """Take (or renew) the lease as ``token``: the chunks held unstored, or None while
        another reader has it."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.chunks.claim_reader(execution_id, token, now, now + self._lease)
            held = await uow.chunks.held(execution_id) if claimed else None
            await uow.commit()
        return held

    async def _store_chunks(
        self, execution: Execution, values: Sequence[Any], token: str, keep: bool = False
    ) -> tuple[Execution, bool]:
        """Store ``values`` (their files first) and give the lease back (renew it with
        ``keep``); when the blob store is down, hold them with the lease instead. True when
        they are held."""
        try:
            values, files = await self._offload(execution, values)
        except BlobStoreUnavailable as exc:
            log.warning(
                "execution.chunks_held",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution, await self._hold(execution.id, values, token, keep)
        now = self._clock.now()

        def writes(before: Execution) -> list[Write]:
            rows = chunks_after(before, values, now)

            async def write(uow: UnitOfWork) -> None:
                if not await uow.chunks.release_reader(before.id, token, ()):
                    raise StreamLeaseLost()
                if keep:  # taken again at once, in the same transaction
                    await uow.chunks.claim_reader(before.id, token, now, now + self._lease)
                await uow.chunks.add(rows)
                for record in files:
                    await uow.files.add(ExecutionFile.of(before.id, record, now))

            return [write]

        try:
            stored, changed = await self._store(
                execution.id, lambda e: e.add_chunks(len(values)), writes
            )
        except StreamLeaseLost:
            log.warning(
                "execution.stream_lease_lost",
                extra={"execution_id": str(execution.id), "chunks": len(values)},
            )
            return execution, False
        if not changed:
            log.warning(
                "execution.chunks_after_end",
                extra={"execution_id": str(execution.id), "chunks": len(values)},
            )
        return stored, False

    async def _hold(
        self, execution_id: uuid.UUID, values: Sequence[Any], token: str, keep: bool
    ) -> bool:
        """Keep ``values`` unstored with the lease (given back, or renewed with ``keep``);
        False when it was lost (the chunks are dropped, never stored out of order)."""
        async with self._uow() as uow:
            held = [json_safe(v) for v in values]
            kept = await uow.chunks.release_reader(execution_id, token, held)
            if kept and keep:
                now = self._clock.now()
                await uow.chunks.claim_reader(execution_id, token, now, now + self._lease)
            await uow.commit()
        if not kept:
            log.warning(
                "execution.stream_lease_lost",
                extra={"execution_id": str(execution_id), "chunks": len(values)},
            )
        return kept

    async def _offload(
        self, execution: Execution, values: Sequence[Any]
    ) -> tuple[list[Any], list[FileRecord]]:
        """``values`` with their files in the blob store (references in their place),
        and the stored files; each chunk's files under keys of its own ``seq``."""
        base = None
        if self._files is not None and self._base_of is not None:
            base = await self._base_of(execution)
        if base is None or not any(find_files(v, base.output_type) for v in values):
            return list(values), []
        assert self._files is not None
        async with self._uow() as uow:  # the count as stored: no other reader adds to it
            fresh = await uow.executions.get(execution.id)
        first = (fresh or execution).chunks + 1
        stored: list[Any] = []
        records: list[FileRecord] = []
        for offset, value in enumerate(values):
            value, files = await self._files.offload(execution.id, value, base, first + offset)
            stored.append(value)
            records += files
        return stored, records

    async def _finish(self, execution: Execution, endpoint_id: str, job_id: str) -> Execution:
        """The job ended: its status and output from ``status``; a completed job's output
        is the worker's aggregate, or the list of every stored chunk."""
        try:
            report = await self._provider.status(endpoint_id, job_id)
        except ProviderJobNotFound:
            now = self._clock.now()
            stored, _ = await self._store(
                execution.id, lambda e: e.fail(Failure.JOB_LOST, now), _nothing
            )
            return stored
        except GpuProviderError as exc:
            log.warning(
                "execution.poll_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        if report.execution_status is ExecutionStatus.COMPLETED:
            async with self._uow() as uow:
                chunks = await uow.chunks.after(execution.id, 0, MAX_AGGREGATED_CHUNKS)
            output = aggregate(report.output, [c.value for c in chunks])
            report = dataclasses.replace(report, output=output)
        return await self._record(execution, report)

    async def _release(self, execution_id: uuid.UUID, token: str) -> None:
        try:
            async with self._uow() as uow:
                await uow.chunks.release_reader(execution_id, token)
                await uow.commit()
        except Exception:  # the lease expires by itself
            log.warning(
                "execution.stream_release_failed", extra={"execution_id": str(execution_id)}
            )


def _nothing(before: Execution) -> Sequence[Write]:
    return ()
