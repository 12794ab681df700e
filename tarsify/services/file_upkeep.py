"""Keeping files in order: moving inline outputs of older rows into the file store,
deleting output files past their retention, and expired uploads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tarsify.domain.execution import Execution
from tarsify.domain.files import without_files
from tarsify.domain.models import BaseModel
from tarsify.ports.clock import Clock
from tarsify.ports.files import BlobStore
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.changes import Decision, store_change
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.run_targets import run_target_of
from tarsify.services.files import OutputFiles
from tarsify.services.uploads import UploadService

log = logging.getLogger("tarsify.files")
Progress = Callable[[int, int], None]  # (executions scanned, executions moved)


@dataclass(slots=True)
class OffloadReport:
    """What one ``offload_inline`` run did."""

    scanned: int = 0
    moved: int = 0
    files: int = 0


class FileUpkeep:
    """``offload_inline`` (the ``tarsify outputs offload`` command), ``purge`` (the
    worker's retention sweep) and ``expire_uploads`` (the sweep of expired uploads)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: OutputFiles,
        blobs: BlobStore,
        clock: Clock,
        uploads: UploadService | None = None,
    ) -> None:
        self._uow = uow
        self._uploads = uploads
        self._files = files
        self._blobs = blobs
        self._clock = clock
        self._bases: dict[uuid.UUID, BaseModel | None] = {}

    async def offload_inline(
        self, batch: int = 100, progress: Progress | None = None
    ) -> OffloadReport:
        """Move the files still inline in COMPLETED executions into the file store.

        Idempotent and resumable: an execution already moved has references only, and
        finds nothing more to move; the scan can stop anywhere and start again.
        """
        report = OffloadReport()
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with self._uow() as uow:
                page = await uow.executions.list_completed(after, batch)
            if not page:
                return report
            for execution in page:
                report.scanned += 1
                report.files += await self._offload_one(execution, report)
            after = (page[-1].created_at, page[-1].id)
            if progress is not None:
                progress(report.scanned, report.moved)

    async def _offload_one(self, execution: Execution, report: OffloadReport) -> int:
        base = await self._base_of(execution.tars_model_id)
        if base is None or execution.output_payload is None:
            return 0
        output, records = await self._files.offload(execution.id, execution.output_payload, base)
        if not records:
            return 0
        _, changed = await store_change(
            self._uow,
            Listeners(),
            execution.id,
            _replaced(output, self._clock.now()),
            known=execution,
            files=records,
        )
        report.moved += int(changed)
        return len(records) if changed else 0

    async def _base_of(self, tars_model_id: uuid.UUID) -> BaseModel | None:
        if tars_model_id not in self._bases:
            async with self._uow() as uow:
                target = await run_target_of(uow, tars_model_id)
            self._bases[tars_model_id] = target.base_model if target else None
        return self._bases[tars_model_id]

    async def purge(self, retention_days: int, limit: int = 500) -> int:
        """Delete up to ``limit`` files older than ``retention_days``; their place in the
        execution's output becomes ``null``. Returns how many were deleted."""
        cutoff = self._clock.now() - timedelta(days=retention_days)
        async with self._uow() as uow:
            old = await uow.files.list_created_before(cutoff, limit)
        by_execution: dict[uuid.UUID, set[str]] = {}
        for file in old:
            by_execution.setdefault(file.execution_id, set()).add(file.key)
        for execution_id, keys in by_execution.items():
            async with self._uow() as uow:
                execution = await uow.executions.get(execution_id)
            if execution is not None:
                output = without_files(execution.output_payload, keys)
                await store_change(
                    self._uow,
                    Listeners(),
                    execution_id,
                    _replaced(output, self._clock.now()),
                    known=execution,
                )
        for file in old:
            await self._blobs.delete(file.key)
            async with self._uow() as uow:
                await uow.files.delete(file.id)
                await uow.commit()
        if old:
            log.info("files.purged", extra={"files": len(old), "cutoff": cutoff.isoformat()})
        return len(old)

    async def expire_uploads(self, limit: int = 500) -> int:
        """Delete up to ``limit`` uploads past their expiry (their bytes too); how many.
        An upload an execution still needs was kept until its deadline by the run."""
        return 0 if self._uploads is None else await self._uploads.sweep(limit)


def _replaced(output: Any, now: datetime) -> Decision:
    """The change that stores ``output`` in place of the execution's output."""
    return lambda execution: execution.replace_output(output, now)
