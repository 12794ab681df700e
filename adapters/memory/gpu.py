"""Scriptable in-memory GpuProvider for unit tests of the services."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import JobReport, JobRequest

METHODS = ("submit", "submit_and_wait", "status", "cancel")
_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


@dataclass(slots=True)
class FakeJob:
    """A job the fake knows; tests change its fields to script the provider's answers."""

    job_id: str
    endpoint_id: str
    request: JobRequest
    status: str = "IN_QUEUE"
    output: Any = None
    error: str | None = None
    delay_time_ms: int | None = None
    execution_time_ms: int | None = None

    def snapshot(self) -> JobReport:
        """What the provider reports for this job now."""
        return JobReport(
            job_id=self.job_id,
            status=self.status,
            output=self.output,
            error=self.error,
            delay_time_ms=self.delay_time_ms,
            execution_time_ms=self.execution_time_ms,
        )


class FakeGpuProvider:
    """In-memory GpuProvider: records jobs, counts calls, injects failures and latency.

    ``on_submit`` (if set) is called with each new job before it is returned, so a test
    can, for example, complete ``submit_and_wait`` jobs at once. With ``known_endpoints``
    a job for any other endpoint is refused as providers do (a 404 ``REFUSED``); without
    it every endpoint exists.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        id_prefix: str = "fake-job-",
        known_endpoints: Collection[str] | None = None,
    ) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.calls: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.latency: dict[str, float] = dict.fromkeys(METHODS, latency_s)
        self.on_submit: Callable[[FakeJob], None] | None = None
        self._failures: dict[str, deque[GpuProviderError]] = defaultdict(deque)
        self._id_prefix = id_prefix
        self._known = None if known_endpoints is None else frozenset(known_endpoints)
        self._next_id = 0

    # --- scripting -------------------------------------------------------------------

    def fail_next(self, method: str, error: GpuProviderError, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error``."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
        self._failures[method].extend([error] * times)

    def set_status(
        self,
        job_id: str,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
        delay_time_ms: int | None = None,
        execution_time_ms: int | None = None,
    ) -> FakeJob:
        """Script what ``status`` will report for a job."""
        job = self.jobs[job_id]
        job.status, job.output, job.error = status, output, error
        job.delay_time_ms, job.execution_time_ms = delay_time_ms, execution_time_ms
        return job

    def forget(self, job_id: str) -> None:
        """Make the provider lose the job, as after result expiry."""
        self.jobs.pop(job_id, None)

    @property
    def submitted(self) -> list[JobRequest]:
        """Requests of every job still known, in submission order."""
        return [job.request for job in self.jobs.values()]

    # --- the port --------------------------------------------------------------------

    async def submit(self, request: JobRequest) -> JobReport:
        """Record a new IN_QUEUE job."""
        async with self._call("submit"):
            return self._create(request).snapshot()

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """Record a new job and report it as ``on_submit`` left it."""
        async with self._call("submit_and_wait"):
            return self._create(request).snapshot()

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """The scripted status of a job."""
        async with self._call("status"):
            return self._get(endpoint_id, job_id).snapshot()

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """CANCELLED unless the job had already finished."""
        async with self._call("cancel"):
            job = self._get(endpoint_id, job_id)
            if job.status not in _TERMINAL:
                job.status = "CANCELLED"
            return job.snapshot()

    # --- internals -------------------------------------------------------------------

    def _create(self, request: JobRequest) -> FakeJob:
        if self._known is not None and request.endpoint_id not in self._known:
            raise GpuProviderError(
                "Unknown GPU endpoint", outcome=ProviderOutcome.REFUSED, status_code=404
            )
        self._next_id += 1
        job = FakeJob(f"{self._id_prefix}{self._next_id}", request.endpoint_id, request)
        self.jobs[job.job_id] = job
        if self.on_submit is not None:
            self.on_submit(job)
        return job

    def _get(self, endpoint_id: str, job_id: str) -> FakeJob:
        job = self.jobs.get(job_id)
        if job is None or job.endpoint_id != endpoint_id:
            raise ProviderJobNotFound(f"fake provider does not know job {job_id}")
        return job

    @asynccontextmanager
    async def _call(self, method: str) -> AsyncIterator[None]:
        """Count the call, track concurrency, sleep the latency, raise injected failures."""
        self.calls[method] += 1
        self.in_flight[method] += 1
        self.max_in_flight[method] = max(self.max_in_flight[method], self.in_flight[method])
        try:
            if self.latency[method] > 0:
                await asyncio.sleep(self.latency[method])
            if self._failures[method]:
                raise self._failures[method].popleft()
            yield
        finally:
            self.in_flight[method] -= 1
