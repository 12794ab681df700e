"""GpuProvider over RunPod serverless: request bodies in, ``JobReport``s out."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import structlog

from adapters.providers.runpod.client import RunPodClient, RunPodError, RunPodJobNotFound
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import JobReport, JobRequest

log = structlog.get_logger(__name__)

KNOWN_STATUSES = frozenset(
    {"IN_QUEUE", "IN_PROGRESS", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}
)
_FINAL_WITHOUT_RESULT = frozenset({"COMPLETED", "FAILED", "TIMED_OUT"})
_RUNNING = frozenset({"IN_PROGRESS", "RUNNING"})
MAX_ERROR_CHARS = 1000


def build_body(request: JobRequest) -> dict[str, Any]:
    """The ``/run`` body: the input, the job's execution timeout and ttl in ms, and the
    callback URL (RunPod's ``webhook``) when there is one."""
    body: dict[str, Any] = {
        "input": request.input,
        "policy": {"executionTimeout": request.execution_timeout_ms, "ttl": request.ttl_ms},
    }
    if request.callback_url:
        body["webhook"] = request.callback_url
    return body


def clean_error(error: Any) -> str | None:
    """A human-readable message from RunPod's ``error``, never a traceback."""
    if error is None or error == "":
        return None
    parsed: Any = error
    if isinstance(error, str):
        try:
            parsed = json.loads(error)
        except ValueError:
            parsed = error
    if isinstance(parsed, dict):
        message = parsed.get("error_message") or parsed.get("message") or parsed.get("error")
        text = message if isinstance(message, str) else "The worker failed"
    else:
        text = str(parsed)
    # Plain-text errors from custom workers sometimes embed a Python traceback.
    text = text.split("Traceback (most recent call last)")[0].strip() or "The worker failed"
    return text[:MAX_ERROR_CHARS]


def snapshot_from_status(data: dict[str, Any], job_id: str | None = None) -> JobReport:
    """Map a RunPod status object to the port's snapshot; unknown statuses pass through."""
    found_id = data.get("id")
    if not isinstance(found_id, str) or not found_id:
        if job_id is None:
            raise GpuProviderError(
                "RunPod answered without a job id", outcome=ProviderOutcome.UNKNOWN
            )
        found_id = job_id
    status = data.get("status")
    if not isinstance(status, str) or status not in KNOWN_STATUSES:
        log.warning("runpod.unknown_status", job_id=found_id, status=status)
        status = status if isinstance(status, str) else "UNKNOWN"
    output, progress = data.get("output"), None
    if status in _RUNNING and output is not None:
        # A worker's progress_update shows as the output while the job runs.
        output, progress = None, output
    return JobReport(
        job_id=found_id,
        status=status,
        output=output,
        progress=progress,
        error=clean_error(data.get("error")),
        delay_time_ms=_ms(data.get("delayTime")),
        execution_time_ms=_ms(data.get("executionTime")),
    )


class RunPodGpuProvider:
    """The GpuProvider port over a ``RunPodClient``; every failure becomes GpuProviderError."""

    def __init__(self, client: RunPodClient) -> None:
        self._client = client

    async def submit(self, request: JobRequest) -> JobReport:
        """Queue a job with ``/run``."""
        data = await self._guard(self._client.run(request.endpoint_id, build_body(request)))
        return snapshot_from_status(data)

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """Queue a job with ``/runsync``; a non-terminal answer means keep polling."""
        call = self._client.runsync(request.endpoint_id, build_body(request), wait_ms)
        return snapshot_from_status(await self._guard(call))

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """Current status with output or error."""
        data = await self._guard(self._client.status(endpoint_id, job_id))
        return snapshot_from_status(data, job_id)

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """The chunks yielded since the last read (``/stream``, consumed on read) and the
        job's status (its output, for a finished job, is on ``/status``)."""
        data = await self._guard(self._client.stream(endpoint_id, job_id))
        items = data.get("stream")
        chunks = tuple(
            item["output"] if isinstance(item, dict) and "output" in item else item
            for item in (items if isinstance(items, list) else [])
        )
        status = data.get("status")
        if not isinstance(status, str) or status not in KNOWN_STATUSES:
            status = status if isinstance(status, str) else "UNKNOWN"
        return JobReport(job_id=job_id, status=status, chunks=chunks)

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """Cancel; when the job had already finished, read its full status."""
        data = await self._guard(self._client.cancel(endpoint_id, job_id))
        snapshot = snapshot_from_status(data, job_id)
        if (
            snapshot.status in _FINAL_WITHOUT_RESULT
            and "output" not in data
            and "error" not in data
        ):
            # /cancel of a finished job reports only the status; the result is on /status.
            try:
                return await self.status(endpoint_id, job_id)
            except GpuProviderError as exc:
                log.warning("runpod.cancel_followup_failed", job_id=job_id, error=str(exc))
        return snapshot

    @staticmethod
    async def _guard(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Await a client call, translating its failures into the core's errors."""
        try:
            return await call
        except RunPodJobNotFound as exc:
            raise ProviderJobNotFound("RunPod does not know the job (unknown or expired)") from exc
        except RunPodError as exc:
            # The message may reach consumers: no endpoint or job ids in it.
            message = f"RunPod {exc.method} failed: {exc.message}"
            raise GpuProviderError(
                message,
                outcome=exc.outcome,
                status_code=exc.http_status,
                retry_after_s=exc.retry_after_s,
            ) from exc


def _ms(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None
