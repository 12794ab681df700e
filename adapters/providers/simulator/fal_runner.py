"""What the simulator tells of a job sent to a fal endpoint beyond its status, as fal's
status read with ``?logs=1`` does: the runner's log lines so far (``runner_logs``: the
lines of the fake fal queue) and, while the job waits, its place in the queue (how many
jobs of its endpoint, submitted before it through the same provider, are queued still).
Its job ids are laid out as the fal adapter's (``{owner}/{app}/requests/{request id}``),
so the routing provider finds them as it finds fal's, from a bare request id too.

The engine gives each job its own queue time, so a place only counts the jobs ahead that
have not started yet: it is cheap to count, as only jobs that may still be queued are
looked at (a job that has started never waits again).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from adapters.providers.simulator.engine import (
    COMPLETED,
    IN_PROGRESS,
    IN_QUEUE,
    JobView,
    SimulatorEngine,
)
from adapters.providers.simulator.streams import plan_stream, runner_logs
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobReport

# How often (engine clock seconds) the jobs the engine has forgotten are forgotten here.
SWEEP_S = 1.0


@dataclass(slots=True, frozen=True)
class _Job:
    endpoint_id: str
    since: datetime  # when it was submitted, by the wall clock: its lines are stamped from it
    progress: bool  # whether it reports its progress (a step line per 10%)


def fal_job_id(endpoint_id: str, engine_id: str) -> str:
    """The job id of engine job ``engine_id`` of ``endpoint_id``, as the fal adapter's."""
    app = "/".join(endpoint_id.strip("/").split("/")[:2])
    return f"{app}/requests/{quote(engine_id, safe='')}"


def engine_job_id(job_id: str) -> str:
    """The engine's id of a job id laid out as fal's (a bare request id stays as it is)."""
    return unquote(job_id.rsplit("/requests/", 1)[-1]) if "/requests/" in job_id else job_id


class FalRunner:
    """The log lines and queue places of the jobs one provider sent to the engine."""

    def __init__(self, engine: SimulatorEngine) -> None:
        self._engine = engine
        self._jobs: dict[str, _Job] = {}
        # Job id -> endpoint, in the order they were submitted, of the jobs that may
        # still be queued (removed once seen started or gone).
        self._waiting: dict[str, str] = {}
        self._last_sweep = engine.now()

    def submitted(
        self, view: JobView, input: dict[str, Any], output_type: OutputType, streaming: bool
    ) -> None:
        """Remember a job just submitted (``view``) with what its logs depend on."""
        self._sweep()
        plan = plan_stream(input, output_type, 1.0, streaming)
        progress = plan is not None and plan.progress
        self._jobs[view.id] = _Job(view.endpoint_id, datetime.now(UTC), progress)
        self._waiting[view.id] = view.endpoint_id

    def report(self, view: JobView, report: JobReport) -> JobReport:
        """``report`` of ``view`` with its log lines, and its place while it is queued."""
        job = self._jobs.get(view.id)
        if job is None:
            return report
        queued = view.status == IN_QUEUE
        if not queued:
            self._waiting.pop(view.id, None)
        return dataclasses.replace(
            report,
            job_id=fal_job_id(view.endpoint_id, view.id),
            logs=self.logs(job, view),
            queue_position=self.ahead(view.endpoint_id, view.id) if queued else None,
        )

    def ahead(self, endpoint_id: str, job_id: str) -> int:
        """How many jobs of ``endpoint_id`` submitted before ``job_id`` are still queued."""
        count = 0
        for other, endpoint in list(self._waiting.items()):
            if other == job_id:
                break
            seen = self._engine.get(endpoint, other)
            if seen is None or seen.status != IN_QUEUE:
                del self._waiting[other]
            elif endpoint == endpoint_id:
                count += 1
        return count

    @staticmethod
    def logs(job: _Job, view: JobView) -> list[dict[str, Any]]:
        """The lines the fake fal queue shows for the same state (``fal_queue.State``): a
        job that ended otherwise than COMPLETED shows its start and end only."""
        percent = None
        if view.status == IN_PROGRESS and isinstance(view.progress, dict):
            percent = view.progress.get("percent")
        elif view.status == COMPLETED and job.progress:
            percent = 100
        return runner_logs(
            job.since,
            started=view.delay_time_ms is not None,
            percent=percent if isinstance(percent, int) else None,
            finished=view.is_terminal,
        )

    def _sweep(self) -> None:
        """Forget the jobs the engine has forgotten, at most once per ``SWEEP_S``."""
        now = self._engine.now()
        if now - self._last_sweep < SWEEP_S:
            return
        self._last_sweep = now
        for job_id, job in list(self._jobs.items()):
            if self._engine.get(job.endpoint_id, job_id) is None:
                del self._jobs[job_id]
                self._waiting.pop(job_id, None)
