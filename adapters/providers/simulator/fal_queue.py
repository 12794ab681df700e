"""The state of the fake fal queue: its requests, seen through fal's three statuses.

Each request is a job of the simulator engine under the app's id (``owner/app``: the
request's URLs carry no sub-path), so its timing follows the engine's clock and knobs.
What the engine calls FAILED, TIMED_OUT or CANCELLED, fal calls ``COMPLETED`` with an
``error`` and an ``error_type``; a request that no runner started before its
``X-Fal-Request-Timeout`` ends ``request_timeout`` without running.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.providers.simulator.engine import (
    CANCELLED,
    FAILED,
    IN_PROGRESS,
    TIMED_OUT,
    JobView,
    SimulatorEngine,
)
from adapters.providers.simulator.engine import (
    IN_QUEUE as ENGINE_IN_QUEUE,
)
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_files import CdnFiles, fal_output
from adapters.providers.simulator.streams import plan_stream, runner_logs
from tarsify.domain.models import OutputType

IN_QUEUE = "IN_QUEUE"
COMPLETED = "COMPLETED"
# The HTTP status of a failed request's result, by error type (fal answers an error status).
RESULT_STATUS = {"request_timeout": 504, "request_cancelled": 400}
# fal keeps a request for days; the engine's retention (how long after the end) decides.
_NO_TTL_MS = 365 * 86_400_000


@dataclass(slots=True)
class FalRequest:
    """A request the fake accepted, with what its submit said."""

    request_id: str
    model_id: str
    app_id: str
    input: dict[str, Any]
    output_type: OutputType
    submitted_at: float
    start_timeout_s: float | None = None
    webhook: str | None = None
    priority: str = "normal"
    no_retry: bool = False
    result_expired: bool = False
    output: dict[str, Any] | None = None
    # When it was submitted, by the wall clock: its log lines are stamped from it.
    submitted_wall: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(slots=True, frozen=True)
class State:
    """A request as fal shows it at one instant."""

    status: str  # IN_QUEUE | IN_PROGRESS | COMPLETED
    error: str | None = None
    error_type: str | None = None
    inference_s: float | None = None
    started: bool = False
    # How far the runner got (percent, in steps of 10), for a job that reports progress.
    percent: int | None = None
    since: datetime | None = None

    def logs(self) -> list[dict[str, Any]]:
        """The runner's log lines so far, as ``?logs=1`` shows them: every line it printed
        since it started (a step per 10% of a job that reports progress)."""
        return runner_logs(
            self.since or datetime.now(UTC),
            started=self.started,
            percent=self.percent,
            finished=self.status == COMPLETED,
        )


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


class FalQueue:
    """The fake's requests over the engine, with the fault plan and the CDN."""

    def __init__(
        self,
        engine: SimulatorEngine,
        api_key: str,
        cdn: CdnFiles,
        faults: FalFaultPlan,
        *,
        known_models: Collection[str] | None = None,
        output_types: Mapping[str, OutputType] | None = None,
        app_timeout_s: float = 3600.0,
        public_url: str | None = None,
    ) -> None:
        self.engine = engine
        self.api_key = api_key
        self.cdn = cdn
        self.faults = faults
        self.known_models = None if known_models is None else frozenset(known_models)
        self.output_types = dict(output_types or {})
        self.app_timeout_s = app_timeout_s
        self.public_url = public_url.rstrip("/") if public_url else None
        self.requests: dict[str, FalRequest] = {}
        self._last_sweep = time.monotonic()

    def knows(self, model_id: str) -> bool:
        """True when ``model_id`` is one of the fake's models (any, when not told)."""
        return self.known_models is None or model_id in self.known_models

    def submit(
        self,
        model_id: str,
        input: dict[str, Any],
        *,
        start_timeout_s: float | None = None,
        webhook: str | None = None,
        priority: str = "normal",
        no_retry: bool = False,
        streaming: bool = False,
    ) -> FalRequest:
        """Queue a request for ``model_id`` (``owner/app[/path]``); a ``streaming`` one
        yields chunks over its run (``plan_stream``)."""
        self._sweep()
        app_id = "/".join(model_id.split("/")[:2])
        output_type = self.output_types.get(model_id, OutputType.JSON)
        view = self.engine.submit(
            app_id,
            input,
            output_type=output_type,
            execution_timeout_ms=round(self.app_timeout_s * 1000),
            ttl_ms=_NO_TTL_MS,
            streaming=streaming,
        )
        rec = FalRequest(
            view.id,
            model_id,
            app_id,
            dict(input),
            output_type,
            self.engine.now(),
            start_timeout_s,
            webhook,
            priority,
            no_retry,
        )
        self.requests[rec.request_id] = rec
        return rec

    def find(self, app_id: str, request_id: str) -> tuple[FalRequest, State] | None:
        """The request and its state now, or None when unknown, of another app or expired."""
        rec = self.requests.get(request_id)
        if rec is None or rec.app_id != app_id:
            return None
        view = self.engine.get(app_id, request_id)
        if view is None:
            del self.requests[request_id]
            return None
        return rec, self.state(rec, view)

    def state(self, rec: FalRequest, view: JobView) -> State:
        """fal's view of an engine job (see the module docstring)."""
        return replace(self._state(rec, view), since=rec.submitted_wall)

    def _state(self, rec: FalRequest, view: JobView) -> State:
        ran = _seconds(view.execution_time_ms)
        started = view.delay_time_ms is not None
        if view.status == CANCELLED:
            return State(COMPLETED, "Request was cancelled", "request_cancelled", ran, started)
        deadline = rec.start_timeout_s
        if deadline is not None and (
            view.delay_time_ms / 1000 > deadline
            if view.delay_time_ms is not None
            else self.engine.now() - rec.submitted_at >= deadline
        ):
            return State(COMPLETED, "Request timed out before a runner took it", "request_timeout")
        if view.status in (ENGINE_IN_QUEUE, IN_PROGRESS):
            percent = view.progress.get("percent") if isinstance(view.progress, dict) else None
            return State(view.status, started=started, percent=percent)
        if view.status == TIMED_OUT:
            return State(COMPLETED, "Request timed out", "request_timeout", ran, started)
        if view.status == FAILED:
            message = view.failure.message if view.failure else "Internal Server Error"
            return State(COMPLETED, message, "runner_server_error", ran, started)
        plan = plan_stream(rec.input, rec.output_type, 1.0, streaming=False)
        percent = 100 if plan is not None and plan.progress else None
        return State(COMPLETED, inference_s=ran, started=started, percent=percent)

    def cancel(self, rec: FalRequest) -> None:
        """Remove a queued request, or stop a running one (it ends ``request_cancelled``)."""
        self.engine.cancel(rec.app_id, rec.request_id)

    def queue_position(self, rec: FalRequest) -> int:
        """How many requests of the same app are queued ahead of ``rec``."""
        ahead = 0
        for other in list(self.requests.values()):
            if other is rec:
                break
            if other.app_id == rec.app_id:
                found = self.find(other.app_id, other.request_id)
                ahead += found is not None and found[1].status == IN_QUEUE
        return ahead

    def output(self, rec: FalRequest, state: State, base: str) -> dict[str, Any]:
        """The finished request's output in fal's shape (made once, its files then expire)."""
        if rec.output is None:
            rec.output = fal_output(rec.output_type, rec.input, state.inference_s, self.cdn, base)
        return rec.output

    def _sweep(self) -> None:
        """Forget requests the engine has forgotten, at most once a second."""
        now = time.monotonic()
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        for rec in list(self.requests.values()):
            self.find(rec.app_id, rec.request_id)


# The fake's live state on its aiohttp app.
QUEUE_KEY = web.AppKey("fal_queue", FalQueue)
