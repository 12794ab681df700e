"""Fault knobs the fake provider APIs share: what goes wrong on the next calls, and a log.

Per route (``"*"`` matches every route), faults are consumed in order: an error status
(5xx, 429 with an optional Retry-After), a slow answer (the work is done, the answer is
late) or a dropped connection (the work is done, no answer at all). A fake subclasses
``RouteFaults`` with its routes and applies the plan in its middleware with
``apply_faults``. Tests may change the plan while the server runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from aiohttp import web


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
class RouteFaults:
    """Faults to inject; ``latency_s`` delays every answer; ``requests`` logs every call."""

    routes: ClassVar[tuple[str, ...]] = ()

    latency_s: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    _queues: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))

    def fail_next(self, route: str = "*", times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` requests with ``status`` (500, 502, 503, ...)."""
        self._add(route, times, Fault("status", status=status))

    def throttle_next(
        self, route: str = "*", times: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the next ``times`` requests with 429, with Retry-After when given."""
        self._add(route, times, Fault("status", status=429, retry_after=retry_after))

    def slow_next(self, route: str = "*", times: int = 1, delay_s: float = 1.0) -> None:
        """Do the work, then wait ``delay_s`` before answering."""
        self._add(route, times, Fault("slow", delay_s=delay_s))

    def drop_next(self, route: str = "*", times: int = 1) -> None:
        """Do the work, then close the connection without any response."""
        self._add(route, times, Fault("drop"))

    def clear(self) -> None:
        """Forget pending faults and the request log."""
        self._queues.clear()
        self.requests.clear()
        self.latency_s = 0.0

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

    def _add(self, route: str, times: int, fault: Fault) -> None:
        if route != "*" and route not in self.routes:
            raise ValueError(f"unknown route {route!r}; use one of {self.routes} or '*'")
        self._queues[route].extend([fault] * times)


async def apply_faults(
    request: web.Request,
    plan: RouteFaults,
    route: str,
    refuse: Callable[[int, dict[str, str]], web.StreamResponse],
    answer: Callable[[], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Log the request, apply the next fault of ``route``, else ``answer`` it.

    An error status is ``refuse``d before any work is done, as a gateway in front of the
    provider would; a slow or dropped answer comes after the work (``answer``) is done.
    """
    record = RequestRecord.of(request, route)
    plan.requests.append(record)
    fault = plan.take(route)
    if plan.latency_s:
        await asyncio.sleep(plan.latency_s)
    if fault is not None and fault.kind == "status":
        extra = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        record.status = fault.status
        return refuse(fault.status, extra)
    response = await answer()
    if fault is not None and fault.kind == "slow":
        await asyncio.sleep(fault.delay_s)
    if fault is not None and fault.kind == "drop":
        # The work is done (a job may exist) but the caller never hears about it.
        if request.transport is not None:
            request.transport.close()
        return response
    record.status = response.status
    return response
