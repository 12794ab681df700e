"""Talking to the GPU provider on behalf of executions, shared by requests and the reconciler.

Every state change is a compare-and-set: read the execution, compute the change with the
pure rules of ``tarsify.domain.progress``, store it only if nobody changed it meanwhile,
otherwise re-read and re-apply. A terminal execution is never changed again.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable

from tarsify.domain.errors import ExecutionNotFound, GpuProviderError, ProviderJobNotFound
from tarsify.domain.models import BaseModel, Execution, ExecutionStatus, GpuEndpoint
from tarsify.domain.progress import (
    JOB_LOST,
    PROVIDER_REJECTED,
    apply_snapshot,
    finish,
)
from tarsify.domain.states import map_provider_status
from tarsify.ports import Clock, GpuProvider, JobRequest, JobSnapshot, UnitOfWorkFactory
from tarsify.services.engine_settings import EngineSettings

log = logging.getLogger("tarsify.engine")

Mutation = Callable[[Execution], bool]
_CAS_ATTEMPTS = 5


class Dispatcher:
    """Submits, polls and cancels provider jobs and records the outcome safely."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        provider: GpuProvider,
        clock: Clock,
        settings: EngineSettings,
        webhook_url: Callable[[uuid.UUID], str | None] | None = None,
    ) -> None:
        self._uow = uow
        self.provider = provider
        self.clock = clock
        self.settings = settings
        self._webhook_url = webhook_url

    async def transition(
        self, execution_id: uuid.UUID, mutate: Mutation, *, known: Execution | None = None
    ) -> tuple[Execution, bool]:
        """Apply ``mutate`` with compare-and-set, retrying on concurrent changes.

        ``known`` is a state this process just stored: the first attempt starts from it
        (the compare-and-set still checks its version) and saves a read. Returns the
        stored execution and whether this call changed it.
        """
        for attempt in range(_CAS_ATTEMPTS):
            async with self._uow() as uow:
                if attempt == 0 and known is not None:
                    execution: Execution | None = dataclasses.replace(known)
                else:
                    execution = await uow.executions.get(execution_id)
                if execution is None:
                    raise ExecutionNotFound()
                if not mutate(execution):
                    if attempt == 0 and known is not None:
                        continue  # a "no change" decided on a possibly stale state: re-read
                    return execution, False
                if await uow.executions.update(execution):
                    await uow.commit()
                    return execution, True
        # Only reachable under extreme contention; the next poll or reconcile retries.
        async with self._uow() as uow:
            current = await uow.executions.get(execution_id)
        if current is None:
            raise ExecutionNotFound()
        log.warning("execution.cas_exhausted", extra={"execution_id": str(execution_id)})
        return current, False

    async def submit(self, execution: Execution, job: JobRequest | None = None) -> Execution:
        """Claim the submit of a PENDING execution and send it to the provider.

        The claim (``submit_attempts`` 0 -> 1) is committed before the provider call, so
        after a crash the reconciler can tell "never sent" (safe to send) from "maybe
        sent" (never resent: it would run a second GPU job).
        """

        def claim(e: Execution) -> bool:
            if e.status is not ExecutionStatus.PENDING or e.submit_attempts > 0:
                return False
            e.submit_attempts = 1
            e.updated_at = self.clock.now()
            return True

        execution, claimed = await self.transition(execution.id, claim, known=execution)
        if not claimed:
            return execution
        job = job or await self._job_request(execution)
        if job is None:
            return await self._fail(execution.id, PROVIDER_REJECTED, "The model is not available")
        try:
            snapshot = await self.provider.submit(job)
        except GpuProviderError as exc:
            if exc.definite and exc.status_code is None:
                # The request never reached the provider (connection refused): nothing
                # runs, so the submit is handed back and the reconciler retries it.
                log.warning(
                    "execution.submit_unreachable",
                    extra={"execution_id": str(execution.id), "error": exc.message},
                )
                return await self._release_claim(execution.id)
            if exc.definite:
                log.warning(
                    "execution.submit_refused",
                    extra={"execution_id": str(execution.id), "status_code": exc.status_code},
                )
                return await self._fail(
                    execution.id, PROVIDER_REJECTED, "The GPU provider refused the job"
                )
            # The job may exist at the provider: leave it PENDING for the reconciler.
            log.warning(
                "execution.submit_ambiguous",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        return await self._record_submitted(execution, job.endpoint_id, snapshot)

    async def _release_claim(self, execution_id: uuid.UUID) -> Execution:
        def release(e: Execution) -> bool:
            if e.status is not ExecutionStatus.PENDING or e.provider_job_id is not None:
                return False
            e.submit_attempts = 0
            e.updated_at = self.clock.now()
            return True

        stored, _ = await self.transition(execution_id, release)
        return stored

    async def _record_submitted(
        self, claimed: Execution, endpoint_id: str, snapshot: JobSnapshot
    ) -> Execution:
        stored, _ = await self.transition(
            claimed.id, lambda e: self._apply(e, snapshot, default_queued=True), known=claimed
        )
        if stored.status is ExecutionStatus.CANCELLED and stored.provider_job_id == snapshot.job_id:
            # Cancelled while the submit was in flight: stop the job we just started.
            await self._best_effort_cancel(endpoint_id, snapshot.job_id)
        return stored

    def _apply(self, e: Execution, snapshot: JobSnapshot, *, default_queued: bool = False) -> bool:
        status = snapshot.status
        # A submit answer with an unknown status still means the job is queued.
        if (
            default_queued
            and e.status is ExecutionStatus.PENDING
            and (map_provider_status(status) is None)
        ):
            status = "IN_QUEUE"
        if e.is_terminal:
            if e.provider_job_id is None:
                e.provider_job_id = snapshot.job_id
                return True
            return False
        return apply_snapshot(
            e,
            job_id=snapshot.job_id,
            status=status,
            now=self.clock.now(),
            output=snapshot.output,
            error=snapshot.error,
            delay_time_ms=snapshot.delay_time_ms,
            execution_time_ms=snapshot.execution_time_ms,
        )

    async def poll(self, execution: Execution) -> Execution:
        """Ask the provider about the job and record what it says.

        Provider failures change nothing (logged; the next poll retries); a job the
        provider no longer knows becomes FAILED with ``JOB_LOST``.
        """
        if execution.is_terminal or execution.provider_job_id is None:
            return execution
        endpoint_id = await self._provider_endpoint_id(execution)
        if endpoint_id is None:
            return execution
        try:
            snapshot = await self.provider.status(endpoint_id, execution.provider_job_id)
        except ProviderJobNotFound:
            return await self._fail(
                execution.id, JOB_LOST, "The GPU provider no longer knows this job"
            )
        except GpuProviderError as exc:
            log.warning(
                "execution.poll_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        # Read afresh, not from ``execution``: its poll lease (last_polled_at) is stale.
        stored, _ = await self.transition(execution.id, lambda e: self._apply(e, snapshot))
        return stored

    async def adopt(self, execution: Execution, job_id: str) -> Execution:
        """Record ``job_id`` for an execution whose submit answer was lost, if the provider
        confirms it knows that job; anything else changes nothing."""
        endpoint_id = await self._provider_endpoint_id(execution)
        if endpoint_id is None:
            return execution
        try:
            snapshot = await self.provider.status(endpoint_id, job_id)
        except GpuProviderError as exc:
            log.warning(
                "execution.adopt_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        stored, _ = await self.transition(
            execution.id,
            lambda e: e.provider_job_id is None and self._apply(e, snapshot, default_queued=True),
        )
        return stored

    async def cancel(self, execution: Execution) -> Execution:
        """Cancel the job at the provider, then record what the provider reports.

        A job that finished meanwhile is recorded with its real outcome (and output).
        Raises ``GpuProviderError`` when the provider cannot be reached.
        """
        now = self.clock.now()
        if execution.provider_job_id is None:
            stored, _ = await self.transition(
                execution.id, lambda e: finish(e, ExecutionStatus.CANCELLED, now)
            )
            return stored
        endpoint_id = await self._provider_endpoint_id(execution)
        job_id = execution.provider_job_id
        if endpoint_id is None:
            stored, _ = await self.transition(
                execution.id, lambda e: finish(e, ExecutionStatus.CANCELLED, now)
            )
            return stored
        try:
            report = await self.provider.cancel(endpoint_id, job_id)
            if report.status in ("COMPLETED", "FAILED", "TIMED_OUT") and report.output is None:
                report = await self.provider.status(endpoint_id, job_id)
        except ProviderJobNotFound:
            report = JobSnapshot(job_id=job_id, status="CANCELLED")

        def record(e: Execution) -> bool:
            if self._apply(e, report):
                return True
            return finish(e, ExecutionStatus.CANCELLED, self.clock.now())

        stored, _ = await self.transition(execution.id, record)
        return stored

    async def _best_effort_cancel(self, endpoint_id: str, job_id: str) -> None:
        try:
            await self.provider.cancel(endpoint_id, job_id)
        except GpuProviderError as exc:
            log.warning("execution.cancel_failed", extra={"job_id": job_id, "error": exc.message})

    async def cancel_quietly(self, execution: Execution) -> None:
        """Best-effort provider cancel of the execution's job (used on deadline)."""
        if execution.provider_job_id is None:
            return
        endpoint_id = await self._provider_endpoint_id(execution)
        if endpoint_id is not None:
            await self._best_effort_cancel(endpoint_id, execution.provider_job_id)

    async def _fail(self, execution_id: uuid.UUID, code: str, message: str) -> Execution:
        now = self.clock.now()
        stored, _ = await self.transition(
            execution_id,
            lambda e: finish(
                e, ExecutionStatus.FAILED, now, error_code=code, error_message=message
            ),
        )
        return stored

    async def _provider_endpoint_id(self, execution: Execution) -> str | None:
        async with self._uow() as uow:
            endpoint = await uow.endpoints.get(execution.endpoint_id)
        return endpoint.provider_endpoint_id if endpoint else None

    def job_request(
        self, execution: Execution, base: BaseModel, endpoint: GpuEndpoint
    ) -> JobRequest:
        """The provider job for ``execution``: time limits from the base model, and the
        webhook URL when webhooks are configured."""
        return JobRequest(
            endpoint_id=endpoint.provider_endpoint_id,
            input=dict(execution.input_payload or {}),
            execution_timeout_ms=self.settings.execution_timeout_ms(base),
            ttl_ms=self.settings.ttl_ms(base),
            output_type=base.output_type,
            webhook_url=self._webhook_url(execution.id) if self._webhook_url else None,
        )

    async def _job_request(self, execution: Execution) -> JobRequest | None:
        async with self._uow() as uow:
            model = await uow.tars_models.get(execution.tars_model_id)
            base = await uow.base_models.get(model.base_model_id) if model else None
            endpoint = await uow.endpoints.get(execution.endpoint_id)
        if base is None or endpoint is None:
            return None
        return self.job_request(execution, base, endpoint)
