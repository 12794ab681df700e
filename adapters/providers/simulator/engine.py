"""In-process serverless job engine behind the simulated GPU provider and the fake RunPod API.

A job's state is a pure function of the clock: nothing runs in the background, so a test
that moves a ``ManualClock`` sees exactly the transitions it expects, and a server using
``time.monotonic`` behaves like a real queue with workers.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.providers.simulator.clock import ManualClock as ManualClock
from adapters.providers.simulator.media import simulated_output
from adapters.providers.simulator.speech import transcript
from adapters.providers.simulator.streams import StreamPlan, plan_stream
from tarsify.domain.models import OutputType

IN_QUEUE = "IN_QUEUE"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TIMED_OUT = "TIMED_OUT"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, TIMED_OUT})

# RunPod's documented defaults when a request carries no policy.
DEFAULT_EXECUTION_TIMEOUT_MS = 600_000
DEFAULT_TTL_MS = 86_400_000

SIMULATED_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/handler.py", line 42, in handler\n'
    "    raise RuntimeError(message)\n"
)


class NotRetryable(ValueError):
    """Only FAILED and TIMED_OUT jobs can be retried."""


@dataclass(slots=True, frozen=True)
class Failure:
    """How a job fails: RunPod sends worker exceptions as a JSON string, others as text."""

    error_type: str
    message: str
    as_json: bool = True

    def wire(self) -> str:
        """The ``error`` string as RunPod sends it."""
        if not self.as_json:
            return self.message
        return json.dumps(
            {
                "error_type": f"<class '{self.error_type}'>",
                "error_message": self.message,
                "error_traceback": f"{SIMULATED_TRACEBACK}{self.error_type}: {self.message}\n",
                "hostname": "sim-worker",
            }
        )


@dataclass(slots=True)
class _Job:
    id: str
    endpoint_id: str
    input: dict[str, Any]
    output_type: OutputType
    submitted_at: float
    queue_s: float
    run_s: float
    timeout_s: float
    ttl_s: float
    retention_s: float
    failure: Failure | None
    cancelled_at: float | None = None
    output: Any = None
    retries: int = 0
    audio: bytes | None = None
    stream: StreamPlan | None = None  # a generator handler, or a job reporting progress


@dataclass(slots=True, frozen=True)
class JobView:
    """A job as seen at one instant."""

    id: str
    endpoint_id: str
    status: str
    delay_time_ms: int | None = None
    execution_time_ms: int | None = None
    output: Any = None
    failure: Failure | None = None
    worker_id: str | None = None
    progress: Any = None

    @property
    def is_terminal(self) -> bool:
        """True for COMPLETED, FAILED, CANCELLED and TIMED_OUT."""
        return self.status in TERMINAL

    def to_runpod(self) -> dict[str, Any]:
        """The status object RunPod's ``/status`` answers with for this job."""
        body: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.delay_time_ms is not None:
            body["delayTime"] = self.delay_time_ms
        if self.execution_time_ms is not None:
            body["executionTime"] = self.execution_time_ms
        if self.worker_id is not None:
            body["workerId"] = self.worker_id
        if self.status == COMPLETED:
            body["output"] = self.output
        elif self.status == IN_PROGRESS and self.progress is not None:
            body["output"] = self.progress  # progress_update shows as the output
        if self.failure is not None and self.status == FAILED:
            body["error"] = self.failure.wire()
        return body


class SimulatorEngine:
    """Simulated serverless queue: jobs move through RunPod's statuses as the clock runs.

    Knobs are plain attributes (``queue_delay_s``, ``run_time_s``, ``retention_s``,
    ``id_suffix``, ``failure_rate``) plus ``fail_next`` / ``hang_next``; inputs can also
    ask for an outcome with ``"simulate": "fail" | "fail_plain" | "hang"`` and override
    timings with ``simulate_queue_s`` / ``simulate_run_s``.
    """

    def __init__(
        self,
        *,
        queue_delay_s: float = 0.5,
        run_time_s: float = 2.0,
        retention_s: float = 1800.0,
        runsync_retention_s: float = 60.0,
        id_suffix: str = "-u1",
        failure_rate: float = 0.0,
        seed: int | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_delay_s = queue_delay_s
        self.run_time_s = run_time_s
        self.retention_s = retention_s
        self.runsync_retention_s = runsync_retention_s
        self.id_suffix = id_suffix
        self.failure_rate = failure_rate
        self.worker_id = "sim-worker-0001"
        # Files as expiring URLs need a server to fetch them from (the fake RunPod API).
        self.file_urls = False
        self.now = now
        self._rng = random.Random(seed)
        self._fail_next: list[Failure] = []
        self._hang_next = 0
        self._jobs: dict[str, _Job] = {}
        self._last_sweep = now()

    # --- knobs ---------------------------------------------------------------------

    def fail_next(self, count: int = 1, message: str = "Simulated worker failure") -> None:
        """Make the next ``count`` submitted jobs fail with a RunPod-style JSON error."""
        self._fail_next.extend(Failure("RuntimeError", message) for _ in range(count))

    def hang_next(self, count: int = 1) -> None:
        """Make the next ``count`` jobs run until their execution timeout."""
        self._hang_next += count

    # --- operations ----------------------------------------------------------------

    def submit(
        self,
        endpoint_id: str,
        input: dict[str, Any],
        *,
        output_type: OutputType = OutputType.JSON,
        execution_timeout_ms: int | None = None,
        ttl_ms: int | None = None,
        sync: bool = False,
        audio: bytes | None = None,
        streaming: bool = False,
    ) -> JobView:
        """Queue a job; ``sync`` jobs keep their result for ``runsync_retention_s`` only.
        ``audio``: the first bytes of the audio a speech-to-text job was given (read by
        the caller), which its transcript describes; ``streaming`` jobs yield chunks over
        their run (``plan_stream``)."""
        self._sweep()
        timeout_ms = execution_timeout_ms or DEFAULT_EXECUTION_TIMEOUT_MS
        job = _Job(
            id=f"{uuid.UUID(int=self._rng.getrandbits(128), version=4)}{self.id_suffix}",
            endpoint_id=endpoint_id,
            input=dict(input),
            output_type=output_type,
            submitted_at=self.now(),
            queue_s=0.0,
            run_s=0.0,
            timeout_s=timeout_ms / 1000,
            ttl_s=(ttl_ms or DEFAULT_TTL_MS) / 1000,
            retention_s=self.runsync_retention_s if sync else self.retention_s,
            failure=None,
            audio=audio,
        )
        self._plan(job)
        job.stream = plan_stream(job.input, output_type, job.run_s, streaming)
        self._jobs[job.id] = job
        return self._view(job, job.submitted_at)

    def stream(self, endpoint_id: str, job_id: str) -> tuple[JobView, list[Any]] | None:
        """The job now and the chunks it yielded since the previous call (consumed, as
        RunPod's ``/stream``); None when the job is unknown or expired."""
        job = self._live(endpoint_id, job_id)
        if job is None:
            return None
        view = self._view(job, self.now())
        if job.stream is None or view.status == IN_QUEUE:
            return view, []
        ran_s = min(self.now(), self._finished_at(job)) - job.submitted_at - job.queue_s
        return view, job.stream.take(job.output_type, view.status == COMPLETED, ran_s, job.run_s)

    def get(self, endpoint_id: str, job_id: str) -> JobView | None:
        """The job now, or None when unknown, of another endpoint, or expired."""
        job = self._live(endpoint_id, job_id)
        return None if job is None else self._view(job, self.now())

    def cancel(self, endpoint_id: str, job_id: str) -> JobView | None:
        """Cancel a queued or running job; a finished job stays as it is."""
        job = self._live(endpoint_id, job_id)
        if job is None:
            return None
        now = self.now()
        if not self._view(job, now).is_terminal:
            job.cancelled_at = now
        return self._view(job, now)

    def retry(self, endpoint_id: str, job_id: str) -> JobView | None:
        """Run a FAILED or TIMED_OUT job again under the same id."""
        job = self._live(endpoint_id, job_id)
        if job is None:
            return None
        if self._view(job, self.now()).status not in (FAILED, TIMED_OUT):
            raise NotRetryable(f"job {job_id} is not FAILED or TIMED_OUT")
        job.submitted_at, job.cancelled_at, job.output = self.now(), None, None
        job.retries += 1
        self._plan(job)
        return self._view(job, job.submitted_at)

    async def wait(self, endpoint_id: str, job_id: str, wait_s: float) -> JobView | None:
        """Wait up to ``wait_s`` real seconds for the job to finish; returns its last view."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            job = self._live(endpoint_id, job_id)
            if job is None:
                return None
            view = self._view(job, self.now())
            remaining = deadline - loop.time()
            if view.is_terminal or remaining <= 0:
                return view
            # Poll in short steps so a test that moves a ManualClock is noticed quickly.
            step = min(remaining, 0.05, max(self._next_change(job) or 0.05, 0.001))
            await asyncio.sleep(step)

    def health(self, endpoint_id: str) -> dict[str, Any]:
        """Job and worker counts in the shape of RunPod's ``/health``."""
        self._sweep()
        now = self.now()
        counts = dict.fromkeys((IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED, "RETRIED"), 0)
        for job in self._jobs.values():
            if job.endpoint_id == endpoint_id:
                status = self._view(job, now).status
                counts[status] = counts.get(status, 0) + 1
                counts["RETRIED"] += job.retries
        running = counts[IN_PROGRESS]
        return {
            "jobs": {
                "completed": counts[COMPLETED],
                "failed": counts[FAILED],
                "inProgress": running,
                "inQueue": counts[IN_QUEUE],
                "retried": counts["RETRIED"],
            },
            "workers": {"idle": 0 if running else 1, "running": running, "simulated": True},
        }

    def __len__(self) -> int:
        """Number of jobs not yet forgotten."""
        self._sweep(force=True)
        return len(self._jobs)

    def inputs(self) -> list[dict[str, Any]]:
        """The input payload of every job not yet forgotten, oldest first."""
        return [dict(job.input) for job in self._jobs.values()]

    # --- internals -----------------------------------------------------------------

    def _plan(self, job: _Job) -> None:
        """Decide timings and outcome from the input magic and the engine knobs."""
        magic = job.input.get("simulate")
        job.queue_s = _seconds(job.input.get("simulate_queue_s"), self.queue_delay_s)
        job.run_s = _seconds(job.input.get("simulate_run_s"), self.run_time_s)
        job.failure = None
        if magic == "fail":
            job.failure = Failure("RuntimeError", "Simulated failure requested by the input")
        elif magic == "fail_plain":
            job.failure = Failure("Error", "Simulated plain-text failure", as_json=False)
        elif magic in ("hang", "timeout"):
            job.run_s = math.inf
        elif self._fail_next:
            job.failure = self._fail_next.pop(0)
        elif self._hang_next:
            self._hang_next -= 1
            job.run_s = math.inf
        elif self.failure_rate and self._rng.random() < self.failure_rate:
            job.failure = Failure("RuntimeError", "Simulated random failure")

    def _view(self, job: _Job, t: float) -> JobView:
        start = job.submitted_at + job.queue_s
        if job.cancelled_at is not None:
            # cancel() only marks unfinished jobs, so this is before the natural end.
            status, end = CANCELLED, job.cancelled_at
            started = end >= start
        else:
            end, status = start + job.run_s, FAILED if job.failure else COMPLETED
            if job.run_s > job.timeout_s:
                end, status = start + job.timeout_s, TIMED_OUT
            started = t >= start
            if not started:
                status = IN_QUEUE
            elif t < end:
                status = IN_PROGRESS
        finished = status in TERMINAL
        if status == COMPLETED and job.output is None and job.audio is not None:
            job.output = transcript(job.audio, job.input)
        elif status == COMPLETED and job.output is None:
            job.output = simulated_output(job.output_type, job.input, urls=self.file_urls)
            if job.stream is not None and job.stream.chunks:
                job.output = job.stream.output(job.output_type)
        progress = None
        if job.stream is not None and status == IN_PROGRESS:
            progress = job.stream.progress_at(t - start, job.run_s)
        return JobView(
            id=job.id,
            endpoint_id=job.endpoint_id,
            status=status,
            delay_time_ms=_ms(start - job.submitted_at) if started else None,
            execution_time_ms=_ms(end - start) if started and finished else None,
            output=job.output if status == COMPLETED else None,
            failure=job.failure if status == FAILED else None,
            worker_id=self.worker_id if started else None,
            progress=progress,
        )

    def _finished_at(self, job: _Job) -> float:
        if job.cancelled_at is not None:
            return job.cancelled_at
        return job.submitted_at + job.queue_s + min(job.run_s, job.timeout_s)

    def _expires_at(self, job: _Job) -> float:
        return min(job.submitted_at + job.ttl_s, self._finished_at(job) + job.retention_s)

    def _next_change(self, job: _Job) -> float | None:
        now = self.now()
        start = job.submitted_at + job.queue_s
        upcoming = [t - now for t in (start, self._finished_at(job)) if t > now]
        return min(upcoming) if upcoming and math.isfinite(min(upcoming)) else None

    def _live(self, endpoint_id: str, job_id: str) -> _Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.endpoint_id != endpoint_id:
            return None
        if self.now() >= self._expires_at(job):
            del self._jobs[job_id]
            return None
        return job

    def _sweep(self, *, force: bool = False) -> None:
        """Forget expired jobs, at most once per clock second unless forced."""
        now = self.now()
        if not force and now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        for job_id in [j.id for j in self._jobs.values() if now >= self._expires_at(j)]:
            del self._jobs[job_id]


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
