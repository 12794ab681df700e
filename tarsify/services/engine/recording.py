"""What a provider's report about a job becomes: the change to store, with a completed
job's output files stored first.

The execution is never shown COMPLETED before its files exist: when the blob store is
down the change only says why it waits (the next poll tries again), and a file the
provider gave by URL that cannot be downloaded fails it (OUTPUT_DOWNLOAD_FAILED).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from tarsify.domain.errors import BlobStoreUnavailable, OutputDownloadFailed
from tarsify.domain.execution import Execution
from tarsify.domain.failures import Failure
from tarsify.domain.files import FileRecord
from tarsify.domain.jobs import JobReport
from tarsify.domain.models import BaseModel, ExecutionStatus, RunTarget
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.changes import Decision
from tarsify.services.engine.run_targets import run_target_of
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.files import OutputFiles

log = logging.getLogger("tarsify.engine")
MAX_KEPT_BASES = 1024
# What a provider's report means to an execution (``Execution.apply``, ``record_cancel``),
# asked with the report as it is stored and the time it was received.
ReportDecision = Callable[[Execution, JobReport, datetime], bool]


class ReportRecording:
    """Turns a provider's report into the change to store (and the files it refers to)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        settings: EngineSettings,
        files: OutputFiles | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings
        self._files = files
        # Base models by Tars model id, for finding a finished job's files (read at most
        # once per ``run_target_ttl_s`` per model: one read less per completion).
        self._bases: dict[uuid.UUID, tuple[datetime, BaseModel]] = {}

    async def change_of(
        self, execution: Execution, report: JobReport, decide: ReportDecision
    ) -> tuple[Decision, list[FileRecord]]:
        """The change ``report`` makes (``decide`` asked with the report as stored, its
        files offloaded), and the files to record with it."""
        now = self._clock.now()
        if not self._needs_offload(execution, report):
            return lambda e: decide(e, report, now), []
        try:
            stored_report, files = await self._offload(execution, report)
        except OutputDownloadFailed as exc:
            message = exc.message
            return lambda e: e.fail(Failure.OUTPUT_DOWNLOAD_FAILED, now, message), []
        except BlobStoreUnavailable as exc:
            log.warning(
                "execution.files_unstored",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            # Not finished until its files are stored, but shown why it waits.
            job_id = report.job_id
            return lambda e: e.files_unstored(job_id, now), []
        return lambda e: decide(e, stored_report, now), files

    def _needs_offload(self, execution: Execution, report: JobReport) -> bool:
        return (
            self._files is not None
            and not execution.is_terminal
            and report.execution_status is ExecutionStatus.COMPLETED
            and report.output is not None
        )

    async def _offload(
        self, execution: Execution, report: JobReport
    ) -> tuple[JobReport, list[FileRecord]]:
        assert self._files is not None
        base = await self._base_model_of(execution)
        if base is None:
            return report, []
        output, files = await self._files.offload(execution.id, report.output, base)
        return dataclasses.replace(report, output=output), files

    async def base_model_of(self, execution: Execution) -> BaseModel | None:
        """The base model of the execution's Tars model (kept like ``_base_model_of``)."""
        return await self._base_model_of(execution)

    async def _base_model_of(self, execution: Execution) -> BaseModel | None:
        """The base model of the execution's Tars model (what its output holds), from
        this process's copy while it is fresh."""
        now = self._clock.now()
        kept = self._bases.get(execution.tars_model_id)
        ttl = timedelta(seconds=self._settings.run_target_ttl_s)
        if kept is not None and now - kept[0] < ttl:
            return kept[1]
        target = await self._target_of(execution)
        if target is None:
            return None
        if ttl:
            if len(self._bases) >= MAX_KEPT_BASES:
                self._bases.clear()
            self._bases[execution.tars_model_id] = (now, target.base_model)
        return target.base_model

    async def _target_of(self, execution: Execution) -> RunTarget | None:
        async with self._uow() as uow:
            return await run_target_of(uow, execution.tars_model_id)
