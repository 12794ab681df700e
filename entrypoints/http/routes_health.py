"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.errors import StorageError

from .envelope import ok
from .routing import Auth, Caller, Route, services
from .views import Health


def _health(request: web.Request, status: str) -> Health:
    provider = services(request).settings.gpu_provider
    return Health(status=status, gpu_provider=provider, simulated=provider == "simulator")


async def live(request: web.Request, _caller: Caller) -> web.Response:
    """The process answers."""
    return ok(_health(request, "ok"))


async def ready(request: web.Request, _caller: Caller) -> web.Response:
    """The database and the file store answer; 503 ERR_5002 otherwise."""
    svc = services(request)
    try:
        await svc.health.ping()
        if svc.blobs is not None:
            await svc.blobs.ping()
    except StorageError:
        raise
    except Exception as exc:
        # A probe that fails in an unexpected way still means "not ready", not a 500.
        raise StorageError() from exc
    return ok(_health(request, "ready"))


ROUTES = [
    Route(
        "GET",
        "/health",
        live,
        "Liveness",
        Auth.NONE,
        Health,
        tag="health",
        operation_id="getHealth",
    ),
    Route(
        "GET",
        "/health/ready",
        ready,
        "Readiness (checks the database and the file store)",
        Auth.NONE,
        Health,
        tag="health",
        errors=("ERR_5002",),
        operation_id="getReadiness",
    ),
]
