"""``GET /metrics``: the Prometheus text exposition, and the HTTP request metrics.

No authentication (like the probes): keep the port private or filter the path at the
proxy if the figures must not be public. The answer is not an envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from tarsify.domain.errors import StorageError
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import ExecutionStats


class Metrics(Protocol):
    """What this route and the access log ask of the service's metrics (the container
    gives ``adapters.metrics.registry.Metrics``)."""

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one answered request."""
        ...

    def set_execution_counts(self, counts: Mapping[ExecutionStatus, int] | None) -> None:
        """Every status's count now; None when they could not be read."""
        ...

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        ...


METRICS = web.AppKey("metrics", Metrics)
EXECUTION_STATS = web.AppKey("execution_stats", ExecutionStats)
UNMATCHED = "unmatched"


async def metrics_view(request: web.Request) -> web.Response:
    """Every metric; execution counts are read from the database now."""
    metrics = request.app[METRICS]
    try:
        counts = await request.app[EXECUTION_STATS].count_by_status()
    except StorageError:
        # The adapter counted and logged the failure; the other figures still matter
        # most while the database is down, so they are served without the counts.
        counts = None
    metrics.set_execution_counts(counts)
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _route(request: web.Request) -> str:
    # The route template, never the concrete path: ids would make a series per request.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def record_request(request: web.Request, status: int, seconds: float) -> None:
    """Count and time one answered request by method, route template and status."""
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.observe_request(request.method, _route(request), status, seconds)


def install(app: web.Application) -> None:
    """Serve ``GET /metrics`` (and HEAD); the lifecycle sets METRICS and EXECUTION_STATS."""
    app.router.add_get("/metrics", metrics_view)
