"""Fault knobs of the fake fal queue: what goes wrong on the next calls, and a request log.

Per route (``submit``, ``status``, ``result``, ``cancel``; ``"*"`` matches every route),
faults are consumed in order: an error status (5xx, 429 with an optional Retry-After,
401 as for a revoked key), a slow answer (the work is done, the answer is late) or a
dropped connection (the work is done, no answer at all). Two fal-specific knobs act in the
handlers: a result whose stored payload has expired (404 from then on) and a
cancellation that comes too late (202 ``CANCELLATION_REQUESTED``, yet the request runs to
its end). Tests may change the plan while the server runs.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from aiohttp import web

ROUTES = ("submit", "status", "result", "cancel")


@dataclass(slots=True, frozen=True)
class Fault:
    """One injected fault: an error status (with optional Retry-After), a delay, or a drop."""

    kind: str  # "status" | "slow" | "drop"
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 0.0


@dataclass(slots=True)
class RequestRecord:
    """A request the fake received; the Authorization value is never kept."""

    method: str
    path: str
    route: str
    headers: dict[str, str]
    query: dict[str, str]
    at: float
    status: int | None = None

    @classmethod
    def of(cls, request: web.Request, route: str) -> RequestRecord:
        """The record of ``request``, its key redacted."""
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        return cls(
            request.method, request.path, route, headers, dict(request.query), time.monotonic()
        )


@dataclass
class FalFaultPlan:
    """Faults to inject; ``latency_s`` delays every answer; ``requests`` logs every call."""

    latency_s: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    late_cancels: int = 0
    expired_results: int = 0
    _queues: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))

    def fail_next(self, route: str = "*", times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` requests with ``status`` (500, 502, 503, ...)."""
        self._add(route, times, Fault("status", status=status))

    def throttle_next(
        self, route: str = "*", times: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the next ``times`` requests with 429, with Retry-After when given."""
        self._add(route, times, Fault("status", status=429, retry_after=retry_after))

    def unauthorize_next(self, route: str = "*", times: int = 1) -> None:
        """Answer the next ``times`` requests with 401, as for a key revoked meanwhile."""
        self._add(route, times, Fault("status", status=401))

    def slow_next(self, route: str = "*", times: int = 1, delay_s: float = 1.0) -> None:
        """Do the work, then wait ``delay_s`` before answering."""
        self._add(route, times, Fault("slow", delay_s=delay_s))

    def drop_next(self, route: str = "*", times: int = 1) -> None:
        """Do the work, then close the connection without any response."""
        self._add(route, times, Fault("drop"))

    def expire_next_result(self, times: int = 1) -> None:
        """The next ``times`` result reads find the request's payload expired (404)."""
        self.expired_results += times

    def cancel_too_late_next(self, times: int = 1) -> None:
        """The next ``times`` cancellations are accepted but reach the runner too late."""
        self.late_cancels += times

    def clear(self) -> None:
        """Forget pending faults and the request log."""
        self._queues.clear()
        self.requests.clear()
        self.latency_s = 0.0
        self.late_cancels = self.expired_results = 0

    def calls(self, route: str | None = None) -> int:
        """How many requests reached the fake, for one route or all."""
        return sum(1 for r in self.requests if route is None or r.route == route)

    def take(self, route: str) -> Fault | None:
        """The next fault for this route, if any."""
        for key in (route, "*"):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return None

    def take_expired_result(self) -> bool:
        """True (once per knob count) when this result read finds the payload expired."""
        if self.expired_results <= 0:
            return False
        self.expired_results -= 1
        return True

    def take_late_cancel(self) -> bool:
        """True (once per knob count) when this cancellation comes too late."""
        if self.late_cancels <= 0:
            return False
        self.late_cancels -= 1
        return True

    def _add(self, route: str, times: int, fault: Fault) -> None:
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; use one of {ROUTES} or '*'")
        self._queues[route].extend([fault] * times)
