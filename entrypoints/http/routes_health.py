"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.errors import StorageError

from .envelope import ok
from .routing import Auth, Route, services
from .views import Health


async def live(request: web.Request) -> web.Response:
    """The process answers."""
    return ok(Health(status="ok"))


async def ready(request: web.Request) -> web.Response:
    """The database answers; 503 ERR_5002 otherwise."""
    try:
        await services(request).health.ping()
    except StorageError:
        raise
    except Exception as exc:
        # A probe that fails in an unexpected way still means "not ready", not a 500.
        raise StorageError() from exc
    return ok(Health(status="ready"))


ROUTES = [
    Route("GET", "/health", live, "Liveness", Auth.NONE, Health, tag="health"),
    Route(
        "GET",
        "/health/ready",
        ready,
        "Readiness (checks the database)",
        Auth.NONE,
        Health,
        tag="health",
        errors=("ERR_5002",),
    ),
]
