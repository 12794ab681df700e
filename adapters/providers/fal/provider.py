"""GpuProvider over fal's queue: ``JobRequest``s in, ``JobReport``s out.

The port's job id. fal answers a submit with the request's result, status and cancel
URLs and asks clients to use them rather than build them. The job id carries them,
relative to the queue's base URL: normally the result URL's path alone,
``{owner}/{app}/requests/{request_id}`` (status and cancel are that path plus
``/status`` and ``/cancel``); should fal answer URLs of another shape, the three paths
separated by spaces. A stored id thus finds its request from any process, after any
restart, with no table of its own, and shows fal's request id to whoever reads it.
``fal_job_id`` builds the id from a model id and a request id (what a fal webhook
names). URLs on another host than the configured queue are not followed — the key goes
nowhere else —: the id is then fal's documented layout under the app's id.

Statuses. IN_QUEUE and IN_PROGRESS pass through. COMPLETED stays COMPLETED (the output is
then read from the result URL) or, when it carries an ``error``, becomes TIMED_OUT
(``request_timeout``), CANCELLED (``request_cancelled``) or FAILED.
``metrics.inference_time`` (seconds) becomes ``execution_time_ms``. fal reports no queue
time (``delay_time_ms`` stays None); the output's ``timings`` stay in the output. Every
status read asks for the logs (``?logs=1``): the runner's lines so far become
``JobReport.logs`` (the execution keeps them bounded), and ``queue_position`` (IN_QUEUE)
``JobReport.queue_position``.

A ``JobRequest`` on fal's wire: the input is the body; ``ttl_ms`` (the cap on the job's
whole life) is sent as fal's time-to-start deadline ``X-Fal-Request-Timeout``, the nearest
fal offers; ``execution_timeout_ms`` has no equivalent (an app's own timeout caps its
runs); ``callback_url`` becomes ``fal_webhook``. fal's queue has no submit-and-wait:
``submit_and_wait`` submits, then polls the status until the wait runs out.

A streaming ``JobRequest`` (``streaming``) goes to ``fal.run``'s ``/stream`` instead of the
queue and is held open by this process (``adapters.providers.fal.held``: its job ids,
chunks, end and announcements); the provider is a ``HeldStreamProvider``. Such a request
has no webhook, deadline or retries at fal; ``submit_and_wait`` waits for its end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from urllib.parse import quote

import structlog

from adapters.providers.fal.client import FalClient, FalError, FalRequestNotFound
from adapters.providers.fal.held import DEFAULT_IDLE_S, MAX_UNREAD, RETAIN_S, HeldStreams, holder_of
from adapters.providers.fal.sse import FalStream
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.worker_logs import queue_place
from tarsify.ports.provider import HELD_HEARTBEAT_S, JobReport, JobRequest

log = structlog.get_logger(__name__)

IN_QUEUE, IN_PROGRESS, COMPLETED = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"
ERROR_STATUSES = {"request_timeout": "TIMED_OUT", "request_cancelled": "CANCELLED"}
MAX_ERROR_CHARS = 1000
_SEGMENT = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:@-]+")


def app_id(model_id: str) -> str:
    """The app a model id belongs to: ``fal-ai/flux/dev`` -> ``fal-ai/flux``."""
    return "/".join(model_id.strip("/").split("/")[:2])


def fal_job_id(model_id: str, request_id: str) -> str:
    """The job id of a request of ``model_id`` laid out as fal documents its URLs."""
    return f"{app_id(model_id)}/requests/{quote(request_id, safe='')}"


@dataclasses.dataclass(slots=True, frozen=True)
class RequestPaths:
    """A request's result, status and cancel URLs, relative to the queue's base URL."""

    response: str
    status: str
    cancel: str

    @classmethod
    def of_job(cls, job_id: str, model_id: str) -> RequestPaths | None:
        """The paths a job id carries, or None when it is no request of ``model_id``'s app."""
        parts = job_id.split(" ")
        if len(parts) == 1:
            paths = cls(parts[0], f"{parts[0]}/status", f"{parts[0]}/cancel")
        elif len(parts) == 3:
            paths = cls(*parts)
        else:
            return None
        if not all(_safe_path(p) for p in (paths.response, paths.status, paths.cancel)):
            return None
        return paths if paths.response.startswith(app_id(model_id) + "/") else None

    @property
    def job_id(self) -> str:
        """The job id carrying these paths (the result path alone when the others follow)."""
        if (self.status, self.cancel) == (f"{self.response}/status", f"{self.response}/cancel"):
            return self.response
        return f"{self.response} {self.status} {self.cancel}"


def _safe_path(path: str) -> bool:
    return all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in path.split("/"))


def clean_error(error: Any, error_type: Any) -> str:
    """A human-readable message from fal's ``error``, never a traceback."""
    text = error if isinstance(error, str) else ""
    # Errors raised by an app's own code sometimes embed a Python traceback.
    text = text.split("Traceback (most recent call last)")[0].strip()
    if not text:
        text = f"The request failed ({error_type})" if error_type else "The request failed"
    return text[:MAX_ERROR_CHARS]


def ended_report(job_id: str, error_type: Any, error: Any, ms: int | None) -> JobReport:
    """The report of a request that ended with an error."""
    status = ERROR_STATUSES.get(error_type, "FAILED") if isinstance(error_type, str) else "FAILED"
    message = None if status == "CANCELLED" else clean_error(error, error_type)
    return JobReport(job_id=job_id, status=status, error=message, execution_time_ms=ms)


def report_from_status(job_id: str, data: dict[str, Any]) -> JobReport:
    """Map fal's status answer; a COMPLETED one still lacks its output (on the result URL)."""
    status = data.get("status")
    logs = data.get("logs") if isinstance(data.get("logs"), list) else None
    if status in (IN_QUEUE, IN_PROGRESS):
        position = data.get("queue_position") if status == IN_QUEUE else None
        return JobReport(
            job_id=job_id, status=str(status), logs=logs, queue_position=queue_place(position)
        )
    if status != COMPLETED:
        log.warning("fal.unknown_status", job_id=job_id, status=status)
        status = status if isinstance(status, str) else "UNKNOWN"
        return JobReport(job_id=job_id, status=status, logs=logs)
    metrics = data.get("metrics")
    ms = _ms(metrics.get("inference_time")) if isinstance(metrics, dict) else None
    if data.get("error") or data.get("error_type"):
        ended = ended_report(job_id, data.get("error_type"), data.get("error"), ms)
        return dataclasses.replace(ended, logs=logs)
    return JobReport(job_id=job_id, status=COMPLETED, execution_time_ms=ms, logs=logs)


def job_id_of_submit(answer: dict[str, Any], base_url: str, model_id: str) -> str:
    """The job id of a submit's answer (see the module docstring)."""
    request_id = answer.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        # The request may well be queued: the caller must not send it again blindly.
        raise GpuProviderError("fal answered without a request id", outcome=ProviderOutcome.UNKNOWN)
    base = base_url.rstrip("/") + "/"
    found = [answer.get(key) for key in ("response_url", "status_url", "cancel_url")]
    relative = [u[len(base) :] for u in found if isinstance(u, str) and u.startswith(base)]
    if len(relative) == 3:
        job_id = RequestPaths(*relative).job_id
        if RequestPaths.of_job(job_id, model_id) is not None:
            return job_id
    log.warning("fal.unexpected_urls", request_id=request_id, model_id=model_id)
    return fal_job_id(model_id, request_id)


class FalGpuProvider:
    """The GpuProvider port over a ``FalClient``; every failure becomes GpuProviderError.

    ``poll_interval_s`` paces the status reads of ``submit_and_wait``. The held streams'
    limits (``adapters.providers.fal.held``): ``idle_s`` without an event fails a stream,
    ``heartbeat_s`` paces ``news``, ``max_unread`` chunks left unread fail it, an ended
    one is forgotten after ``retain_s``.
    """

    def __init__(
        self,
        client: FalClient,
        *,
        poll_interval_s: float = 0.5,
        idle_s: float = DEFAULT_IDLE_S,
        heartbeat_s: float = HELD_HEARTBEAT_S,
        max_unread: int = MAX_UNREAD,
        retain_s: float = RETAIN_S,
    ) -> None:
        self._client = client
        self._poll_interval_s = poll_interval_s
        self._held = HeldStreams(
            idle_s=idle_s, heartbeat_s=heartbeat_s, max_unread=max_unread, retain_s=retain_s
        )

    @property
    def holder(self) -> str:
        """This instance's id in the job ids of the streams it holds."""
        return self._held.holder

    async def close(self) -> None:
        """Drop every held stream (shutdown)."""
        await self._held.close()

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """True when the job is a stream held by this instance."""
        return self._held.holds(endpoint_id, job_id)

    def news(self) -> AsyncIterator[tuple[str, str]]:
        """The held streams that got events or ended, and a heartbeat of each held one."""
        return self._held.news()

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """A held stream's unread chunks and status; a queue request's status (no chunks)."""
        if holder_of(job_id) is None:
            return await self.status(endpoint_id, job_id)
        return self._held.stream(self._held.job(endpoint_id, job_id))

    async def submit(self, request: JobRequest) -> JobReport:
        """Queue a request for the model ``request.endpoint_id``; hold a streaming one."""
        if request.streaming:
            return await self._hold(request)
        answer = await self._guard(
            self._client.submit(
                request.endpoint_id,
                request.input,
                callback_url=request.callback_url,
                start_timeout_s=request.ttl_ms / 1000,
            )
        )
        return JobReport(
            job_id=job_id_of_submit(answer, self._client.base_url, request.endpoint_id),
            status=IN_QUEUE,
            queue_position=queue_place(answer.get("queue_position")),
        )

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """Queue a request, then poll it until it ends or ``wait_ms`` runs out.

        Once queued, nothing raises: a status read that fails or runs late ends the wait
        with the last known report, so the request is never lost to its caller.
        """
        report = await self.submit(request)
        if request.streaming:
            # A held stream's chunks are read as they come (``news``), not after the
            # wait: its caller waits for the end itself.
            return report
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait_ms, 0) / 1000
        while not report.is_final and (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._poll_interval_s, remaining))
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                    report = await self.status(request.endpoint_id, report.job_id)
            except (GpuProviderError, TimeoutError) as exc:
                log.warning("fal.wait_read_failed", job_id=report.job_id, error=str(exc))
                break
        return report

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """Current status; once COMPLETED, the output read from the result URL (a held
        stream's: its last event)."""
        if holder_of(job_id) is not None:
            return self._held.status(self._held.job(endpoint_id, job_id))
        paths = self._paths(endpoint_id, job_id)
        answer = await self._guard(self._client.status(paths[1], logs=True))
        report = report_from_status(job_id, answer)
        if report.status != COMPLETED:
            return report
        try:
            output = await self._client.result(paths[0])
        except FalError as exc:
            if exc.error_type is not None:  # the result names how the request failed
                ended = ended_report(job_id, exc.error_type, exc.message, report.execution_time_ms)
                return dataclasses.replace(ended, logs=report.logs)
            raise _translated(exc) from exc
        return dataclasses.replace(report, output=output)

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """Ask fal to cancel; a request that had finished keeps its real outcome.

        fal removes a queued request and signals a running one, which then ends
        ``request_cancelled``: the status read just after shows which. A request that
        finished before the signal reached it is reported as it finished (with its
        output); one still running is reported CANCELLED, as it was asked to be. A held
        stream's connection is dropped.
        """
        if holder_of(job_id) is not None:
            return self._held.cancel(self._held.job(endpoint_id, job_id))
        paths = self._paths(endpoint_id, job_id)
        answer = await self._guard(self._client.cancel(paths[2]))
        if answer.get("status") == "ALREADY_COMPLETED":
            return await self.status(endpoint_id, job_id)
        if answer.get("status") != "CANCELLATION_REQUESTED":
            log.warning("fal.unknown_cancel_answer", job_id=job_id, status=answer.get("status"))
        try:
            after = await self.status(endpoint_id, job_id)
        except GpuProviderError as exc:
            log.warning("fal.cancel_followup_failed", job_id=job_id, error=str(exc))
            return JobReport(job_id=job_id, status="CANCELLED")
        return after if after.is_final else JobReport(job_id=job_id, status="CANCELLED")

    async def _hold(self, request: JobRequest) -> JobReport:
        """Open the stream of a streaming request and hold it."""
        stream: FalStream
        try:
            stream = await self._client.open_stream(request.endpoint_id, request.input)
        except FalError as exc:
            raise _translated(exc) from exc
        job = self._held.hold(request.endpoint_id, stream)
        return JobReport(job_id=job.job_id, status=IN_QUEUE)

    def _paths(self, endpoint_id: str, job_id: str) -> tuple[str, str, str]:
        """The absolute result, status and cancel URLs of a job id of ``endpoint_id``."""
        paths = RequestPaths.of_job(job_id, endpoint_id)
        if paths is None:
            raise ProviderJobNotFound("fal does not know the job (not a request of this model)")
        base = self._client.base_url
        return f"{base}/{paths.response}", f"{base}/{paths.status}", f"{base}/{paths.cancel}"

    @staticmethod
    async def _guard(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Await a client call, translating its failures into the core's errors."""
        try:
            return await call
        except FalError as exc:
            raise _translated(exc) from exc


def _translated(exc: FalError) -> GpuProviderError:
    if isinstance(exc, FalRequestNotFound):
        return ProviderJobNotFound("fal does not know the request (unknown or expired)")
    # The message may reach consumers: no model or request ids in it.
    return GpuProviderError(
        f"fal {exc.method} failed: {exc.message}",
        outcome=exc.outcome,
        status_code=exc.http_status,
        retry_after_s=exc.retry_after_s,
    )


def _ms(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return round(value * 1000)
    return None
