"""GpuProvider that runs jobs on the in-process simulator engine (no HTTP, no GPU).

One answering for fal endpoints (``fal_logs``) reports what fal's status read with
``?logs=1`` does: the runner's log lines and, while queued, the place in the queue
(``fal_runner``); one answering for RunPod reports neither, as RunPod does."""

from __future__ import annotations

from collections.abc import Collection

from adapters.providers.simulator.engine import IN_QUEUE, JobView, SimulatorEngine
from adapters.providers.simulator.fal_runner import FalRunner, engine_job_id, fal_job_id
from adapters.providers.simulator.speech import audio_head
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobReport, JobRequest


def snapshot_from_view(view: JobView) -> JobReport:
    """The port's snapshot of an engine job; the error keeps the message, not the traceback."""
    return JobReport(
        job_id=view.id,
        status=view.status,
        output=view.output,
        error=view.failure.message if view.failure else None,
        delay_time_ms=view.delay_time_ms,
        execution_time_ms=view.execution_time_ms,
        progress=view.progress,
    )


class SimulatedGpuProvider:
    """Local GPU provider for development and demos; every output is labelled simulated."""

    def __init__(
        self,
        engine: SimulatorEngine,
        *,
        known_endpoints: Collection[str] | None = None,
        fal_logs: bool = False,
    ) -> None:
        self._engine = engine
        self._known = None if known_endpoints is None else frozenset(known_endpoints)
        self._fal = FalRunner(engine) if fal_logs else None

    async def submit(self, request: JobRequest) -> JobReport:
        """Queue a job; like RunPod's ``/run`` the first status is always IN_QUEUE (with
        its place in the queue, as fal's submit answers, under ``fal_logs``)."""
        view = self._submit(request, sync=False, audio=await self._audio(request))
        if self._fal is None:
            return JobReport(job_id=view.id, status=IN_QUEUE)
        ahead = self._fal.ahead(view.endpoint_id, view.id)
        job_id = fal_job_id(view.endpoint_id, view.id)
        return JobReport(job_id=job_id, status=IN_QUEUE, queue_position=ahead)

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """Queue a job and wait up to ``wait_ms`` for it to finish."""
        view = self._submit(request, sync=True, audio=await self._audio(request))
        waited = await self._engine.wait(request.endpoint_id, view.id, max(wait_ms, 0) / 1000)
        if waited is None:
            raise ProviderJobNotFound("The simulated job expired while waiting")
        return self._report(waited)

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """Current status of a job."""
        self._check_endpoint(endpoint_id)
        return self._report(self._found(self._engine.get(endpoint_id, self._own(job_id))))

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """The chunks a streaming job yielded since the last call (consumed) and its
        status (its output is read with ``status``)."""
        self._check_endpoint(endpoint_id)
        read = self._engine.stream(endpoint_id, self._own(job_id))
        if read is None:
            raise ProviderJobNotFound("The simulator does not know the job (unknown or expired)")
        view, chunks = read
        return JobReport(job_id=job_id, status=view.status, chunks=tuple(chunks))

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """Cancel a job; a finished job keeps its status."""
        self._check_endpoint(endpoint_id)
        return self._report(self._found(self._engine.cancel(endpoint_id, self._own(job_id))))

    async def _audio(self, request: JobRequest) -> bytes | None:
        """What a speech-to-text worker reads of its audio (a text model given one)."""
        if request.output_type != OutputType.TEXT:
            return None
        self._check_endpoint(request.endpoint_id)
        return await audio_head(request.input)

    def _own(self, job_id: str) -> str:
        """The engine's id of ``job_id`` (fal's layout under ``fal_logs``)."""
        return job_id if self._fal is None else engine_job_id(job_id)

    def _report(self, view: JobView) -> JobReport:
        report = snapshot_from_view(view)
        return report if self._fal is None else self._fal.report(view, report)

    def _submit(self, request: JobRequest, *, sync: bool, audio: bytes | None) -> JobView:
        self._check_endpoint(request.endpoint_id)
        view = self._engine.submit(
            request.endpoint_id,
            request.input,
            output_type=request.output_type,
            execution_timeout_ms=request.execution_timeout_ms,
            ttl_ms=request.ttl_ms,
            sync=sync,
            audio=audio,
            streaming=request.streaming,
        )
        if self._fal is not None:
            self._fal.submitted(view, request.input, request.output_type, request.streaming)
        return view

    def _check_endpoint(self, endpoint_id: str) -> None:
        if self._known is not None and endpoint_id not in self._known:
            # Same answer as RunPod for an unknown endpoint: a definite 404 refusal.
            raise GpuProviderError(
                "Unknown GPU endpoint", outcome=ProviderOutcome.REFUSED, status_code=404
            )

    @staticmethod
    def _found(view: JobView | None) -> JobView:
        if view is None:
            raise ProviderJobNotFound("The simulator does not know the job (unknown or expired)")
        return view
