"""Talking to the GPU provider on behalf of executions, shared by requests and the reconciler.

The rules live on the ``Execution`` aggregate; this service loads an execution, asks it
what a provider answer means, and stores the result with a compare-and-set on
``version`` (re-reading and asking again when another writer got there first).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.execution import Execution
from tarsify.domain.failures import Failure, PendingReason
from tarsify.domain.files import FileRecord
from tarsify.domain.jobs import JobReport, JobRequest
from tarsify.domain.models import ExecutionStatus, RunTarget
from tarsify.ports.clock import Clock
from tarsify.ports.provider import CallbackUrlBuilder, GpuProvider, StreamingGpuProvider
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.changes import Also, Decision, store_change
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.recording import ReportDecision, ReportRecording
from tarsify.services.engine.run_targets import run_target_of
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.engine.streaming import StreamReading
from tarsify.services.files import OutputFiles
from tarsify.services.input_files import InputFiles

log = logging.getLogger("tarsify.engine")


class Dispatcher:
    """Submits, polls and cancels provider jobs and records the outcome safely."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        provider: GpuProvider,
        clock: Clock,
        settings: EngineSettings,
        callbacks: CallbackUrlBuilder | None = None,
        files: OutputFiles | None = None,
        listeners: Listeners | None = None,
        input_files: InputFiles | None = None,
    ) -> None:
        self._uow = uow
        self._input_files = input_files
        self._provider = provider
        self._clock = clock
        self._settings = settings
        self._callbacks = callbacks
        self._listeners = listeners or Listeners()
        self._recording = ReportRecording(uow, clock, settings, files)
        self._streams: StreamReading | None = None
        if isinstance(provider, StreamingGpuProvider):
            self._streams = StreamReading(
                uow,
                provider,
                clock,
                lambda execution_id, decide, also: self.store(execution_id, decide, also=also),
                lambda execution, report: self._record(execution, Execution.apply, report),
                files,
                self._recording.base_model_of,
                settings.stream_lease_s,
            )

    async def store(
        self,
        execution_id: uuid.UUID,
        decide: Decision,
        *,
        known: Execution | None = None,
        files: Sequence[FileRecord] = (),
        also: Also | None = None,
    ) -> tuple[Execution, bool]:
        """Ask ``decide(execution)`` and store its change (see
        ``tarsify.services.engine.changes.store_change``)."""
        return await store_change(
            self._uow, self._listeners, execution_id, decide, known=known, files=files, also=also
        )

    # --- submit ------------------------------------------------------------------------

    async def submit(
        self, execution: Execution, target: RunTarget | None = None, wait_ms: int = 0
    ) -> Execution:
        """Claim the submit of a PENDING execution and send it to the provider.

        The claim is committed before the provider call, so after a crash the reconciler
        can tell "never sent" (safe to send) from "maybe sent" (never resent: it could
        run a second GPU job). ``wait_ms`` > 0 sends with the provider's submit-and-wait.
        """
        target = target or await self._target_of(execution)
        # Sent later (a resend, a crash): its model, base model and endpoint must still be
        # able to run it (a test run: still its developer's, a DRAFT or PUBLISHED).
        # Otherwise it fails here, unsent, and its hold is released.
        if target is None or _unrunnable(target, execution):
            now = self._clock.now()
            stored, _ = await self.store(
                execution.id, lambda e: e.fail(Failure.MODEL_UNAVAILABLE, now)
            )
            return stored
        if execution.input_payload is None:
            # A view carries no payload (it is never shown): what is sent is what is stored.
            execution = await self._stored(execution)
        now = self._clock.now()
        endpoint_id = target.endpoint.job_target
        answer_by = now + timedelta(seconds=self._settings.submit_answer_s + wait_ms / 1000)
        execution, claimed = await self.store(
            execution.id, lambda e: e.claim_submit(now, endpoint_id, answer_by), known=execution
        )
        if not claimed:
            return execution
        job = self.job_request(execution, target)
        if self._input_files is not None:  # uploads: fresh links for the whole deadline
            signed = await self._input_files.signed(job.input, execution.deadline_at)
            job = dataclasses.replace(job, input=signed)
        try:
            if wait_ms > 0:
                report = await self._provider.submit_and_wait(job, wait_ms)
            else:
                report = await self._provider.submit(job)
        except GpuProviderError as exc:
            return await self._submit_failed(execution, exc)
        await self._hold_if_held(execution, endpoint_id, report.job_id)
        return await self._record_submitted(execution, report)

    async def _hold_if_held(self, execution: Execution, endpoint_id: str, job_id: str) -> None:
        """A job this process holds open: its stream lease, taken before its id is stored
        (else the first read takes it, a moment later)."""
        if self._streams is None or not self._streams.holds(endpoint_id, job_id):
            return
        try:
            await self._streams.hold(execution.id)
        except Exception:
            log.warning("execution.hold_failed", extra={"execution_id": str(execution.id)})

    async def _stored(self, execution: Execution) -> Execution:
        async with self._uow() as uow:
            stored = await uow.executions.get(execution.id)
        return stored if stored is not None else execution

    def give_up_at(self, execution: Execution, now: datetime) -> datetime:
        """When an unanswered submit is abandoned: soon, unless a callback may name the job."""
        give_up = now + timedelta(seconds=self._settings.unconfirmed_wait_s)
        deadline = execution.deadline_at or give_up
        return deadline if self._callbacks is not None else min(give_up, deadline)

    async def _submit_failed(self, execution: Execution, exc: GpuProviderError) -> Execution:
        context = {
            "execution_id": str(execution.id),
            "outcome": str(exc.outcome),
            "status_code": exc.status_code,
            "error": exc.message,
        }
        now = self._clock.now()
        if exc.outcome is ProviderOutcome.NOT_SENT:
            # Nothing was created: hand the submit back for the reconciler to send later.
            log.warning("execution.submit_not_sent", extra=context)
            delay = max(exc.retry_after_s or 0.0, self._settings.resend_delay_s)
            reason = PendingReason.PROVIDER_UNAVAILABLE
            if exc.status_code == 429:
                reason = PendingReason.RATE_LIMITED
            retry_at = now + timedelta(seconds=delay)
            stored, _ = await self.store(
                execution.id, lambda e: e.release_submit(now, retry_at, reason), known=execution
            )
            return stored
        if exc.outcome is ProviderOutcome.REFUSED:
            log.warning("execution.submit_refused", extra=context)
            stored, _ = await self.store(
                execution.id, lambda e: e.fail(Failure.PROVIDER_REJECTED, now), known=execution
            )
            return stored
        # The job may exist at the provider: never resent; given up at ``wake_at``.
        log.warning("execution.submit_unconfirmed", extra=context)
        give_up_at = self.give_up_at(execution, now)
        stored, _ = await self.store(
            execution.id, lambda e: e.mark_unconfirmed(now, give_up_at), known=execution
        )
        return stored

    async def _record_submitted(self, claimed: Execution, report: JobReport) -> Execution:
        stored = await self._record(claimed, _submit_answer, report, known=claimed)
        if stored.status is ExecutionStatus.CANCELLED and stored.provider_job_id == report.job_id:
            # Cancelled while the submit was in flight: stop the job we just started.
            await self._best_effort_cancel(stored)
        return stored

    async def _record(
        self,
        execution: Execution,
        decide: ReportDecision,
        report: JobReport,
        *,
        known: Execution | None = None,
    ) -> Execution:
        """Store what ``report`` means, a completed job's files first (``ReportRecording``)."""
        change, files = await self._recording.change_of(execution, report, decide)
        stored, _ = await self.store(execution.id, change, known=known, files=files)
        return stored

    # --- status ------------------------------------------------------------------------

    async def poll(self, execution: Execution) -> Execution:
        """Ask the provider about the job and record what it says.

        ``execution`` must be a state just read: its version guards the write. Provider
        failures change nothing (logged; the next poll retries); a job the provider no
        longer knows becomes FAILED (JOB_LOST).
        """
        job_id = execution.provider_job_id
        if execution.is_terminal or job_id is None:
            return execution
        endpoint_id = await self._endpoint_of(execution)
        if endpoint_id is None:
            return execution
        if await self.streams_output(execution):
            assert self._streams is not None
            execution = await self._streams.read(execution, endpoint_id)
            return await self._streams.progress(execution, endpoint_id)
        try:
            report = await self._provider.status(endpoint_id, job_id)
        except ProviderJobNotFound:
            now = self._clock.now()
            stored, _ = await self.store(
                execution.id, lambda e: e.fail(Failure.JOB_LOST, now), known=execution
            )
            return stored
        except GpuProviderError as exc:
            log.warning(
                "execution.poll_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        return await self._record(execution, Execution.apply, report, known=execution)

    async def read_stream(self, execution: Execution) -> Execution:
        """For a running execution of a streaming model: read and store the chunks its
        worker yielded since the last read (one reader at a time, whichever process);
        any other execution is returned as it is."""
        if execution.is_terminal or execution.provider_job_id is None:
            return execution
        if not await self.streams_output(execution):
            return execution
        endpoint_id = await self._endpoint_of(execution)
        if endpoint_id is None or self._streams is None:
            return execution
        return await self._streams.read(execution, endpoint_id)

    async def streams_output(self, execution: Execution) -> bool:
        """True when the execution's model streams and the provider can read streams."""
        if self._streams is None:
            return False
        base = await self._recording.base_model_of(execution)
        return base is not None and base.streaming

    async def adopt(self, execution: Execution, job_id: str) -> Execution:
        """Record ``job_id`` for an execution whose submit answer was lost, if the provider
        confirms it knows that job and no other execution holds it; anything else changes
        nothing.

        The job must have been submitted to this execution's own endpoint (the one its
        submit claim recorded): the provider is asked there, and a job of another endpoint
        is unknown to it. A job another execution recorded is refused before the provider
        is asked: its output is that execution's consumer's.
        """
        if execution.provider_job_id is not None or execution.submit_attempts == 0:
            return execution
        async with self._uow() as uow:
            holder = await uow.executions.holder_of_job(job_id)
        if holder is not None and holder != execution.id:
            log.warning(
                "execution.adopt_refused",
                extra={"execution_id": str(execution.id), "held_by": str(holder)},
            )
            return execution
        endpoint_id = await self._endpoint_of(execution)
        if endpoint_id is None:
            return execution
        try:
            report = await self._provider.status(endpoint_id, job_id)
        except GpuProviderError as exc:
            log.warning(
                "execution.adopt_failed",
                extra={"execution_id": str(execution.id), "error": exc.message},
            )
            return execution
        if report.job_id != job_id:
            # The provider named the job by its own id (fal: a request id's full path).
            async with self._uow() as uow:
                holder = await uow.executions.holder_of_job(report.job_id)
            if holder is not None and holder != execution.id:
                return execution
        return await self._record(execution, _submit_answer, report)

    # --- endings -----------------------------------------------------------------------

    async def cancel(self, execution: Execution) -> Execution:
        """Cancel the job at the provider, then record what the provider reports.

        A job that finished meanwhile is recorded with its real outcome (and output).
        Raises ``GpuProviderError`` when the provider cannot be reached.
        """
        job_id = execution.provider_job_id
        endpoint_id = await self._endpoint_of(execution)
        if job_id is None or endpoint_id is None:
            now = self._clock.now()
            stored, _ = await self.store(execution.id, lambda e: e.cancel(now))
            return stored
        try:
            report = await self._provider.cancel(endpoint_id, job_id)
            if report.is_final and report.execution_status is not ExecutionStatus.CANCELLED:
                if report.output is None and report.error is None:
                    report = await self._provider.status(endpoint_id, job_id)
        except ProviderJobNotFound:
            report = JobReport(job_id=job_id, status="CANCELLED")
        return await self._record(execution, Execution.record_cancel, report)

    async def expire(self, execution: Execution) -> Execution:
        """Past its deadline: stop the job at the provider (best effort) and record it.

        A job that finished in time still gets its result: the provider is asked once
        first, but nothing that call does (a failure, a result that cannot be stored)
        can keep the execution from ending now.
        """
        if execution.provider_job_id is not None:
            try:
                polled = await self.poll(execution)
            except Exception:  # the deadline wins over whatever went wrong
                log.exception(
                    "execution.final_poll_failed", extra={"execution_id": str(execution.id)}
                )
            else:
                if polled.is_terminal:
                    return polled
                execution = polled
        await self._best_effort_cancel(execution)
        now = self._clock.now()
        stored, _ = await self.store(execution.id, lambda e: e.expire(now))
        return stored

    async def fail(self, execution_id: uuid.UUID, failure: Failure) -> Execution:
        """FAILED with ``failure``, unless already terminal."""
        now = self._clock.now()
        stored, _ = await self.store(execution_id, lambda e: e.fail(failure, now))
        return stored

    async def _best_effort_cancel(self, execution: Execution) -> None:
        job_id = execution.provider_job_id
        endpoint_id = await self._endpoint_of(execution)
        if job_id is None or endpoint_id is None:
            return
        try:
            await self._provider.cancel(endpoint_id, job_id)
        except GpuProviderError as exc:
            log.warning("execution.cancel_failed", extra={"job_id": job_id, "error": exc.message})

    # --- reads -------------------------------------------------------------------------

    async def _endpoint_of(self, execution: Execution) -> str | None:
        """The provider endpoint the job was sent to (read from the endpoint only for
        executions that have not been sent)."""
        if execution.provider_endpoint_id is not None:
            return execution.provider_endpoint_id
        async with self._uow() as uow:
            endpoint = await uow.endpoints.get(execution.endpoint_id)
        return endpoint.job_target if endpoint else None

    async def _target_of(self, execution: Execution) -> RunTarget | None:
        async with self._uow() as uow:
            return await run_target_of(uow, execution.tars_model_id)

    def job_request(self, execution: Execution, target: RunTarget) -> JobRequest:
        """The provider job for ``execution``: time limits from the base model, and the
        callback URL when provider callbacks are configured."""
        base = target.base_model
        return JobRequest(
            endpoint_id=execution.provider_endpoint_id or target.endpoint.job_target,
            input=dict(execution.input_payload or {}),
            execution_timeout_ms=self._settings.execution_timeout_ms(base),
            ttl_ms=self._settings.ttl_ms(base),
            output_type=base.output_type,
            streaming=base.streaming,
            callback_url=self._callbacks.url_for(execution.id) if self._callbacks else None,
        )


def _submit_answer(execution: Execution, report: JobReport, now: datetime) -> bool:
    """``Execution.apply`` for the submit's own answer (and an adopted job's report)."""
    return execution.apply(report, now, submitted=True)


def _unrunnable(target: RunTarget, execution: Execution) -> bool:
    tester = target.tars_model.developer_id if execution.is_test_run else None
    return target.runnable_problem(tester=tester) is not None
