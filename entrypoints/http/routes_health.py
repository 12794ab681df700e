"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from tarsify.domain.errors import StorageError

from .envelope import ok
from .routing import Auth, Caller, Route, services
from .schemas_health import Health

log = logging.getLogger("tarsify.http")


def _health(request: web.Request, status: str) -> Health:
    gpu = services(request).settings.gpu
    return Health(
        status=status,
        gpu_provider=gpu.provider,
        simulated=gpu.simulated,
        providers=sorted(p.value for p in gpu.reachable_providers()),
    )


async def live(request: web.Request, _caller: Caller) -> web.Response:
    """The process answers."""
    return ok(_health(request, "ok"))


async def _fails(probe: Callable[[], Awaitable[None]]) -> str | None:
    """What ``probe`` raised, or None when it answered."""
    try:
        await probe()
    except StorageError as exc:
        return exc.message
    except Exception:
        # A probe that fails in an unexpected way still means "not ready", not a 500.
        log.exception("health.probe_failed")
        return StorageError.default_message
    return None


async def ready(request: web.Request, _caller: Caller) -> web.Response:
    """The database and the file store answer (and the file store takes a file); 503
    ERR_5002 otherwise, with ``details`` naming each part that fails."""
    svc = services(request)
    failing = {}
    database = await _fails(svc.health.ping)
    if database is not None:
        failing["database"] = database
    files = await _fails(svc.blobs.ping) if svc.blobs is not None else None
    if files is not None:
        failing["fileStore"] = files
    if failing:
        names = {"database": "the database", "fileStore": "the file store"}
        parts = " and ".join(names[part] for part in failing)
        verb = "fails" if len(failing) == 1 else "fail"
        raise StorageError(f"Not ready: {parts} {verb}", details=failing)
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
