"""Provider callbacks: RunPod and fal announce finished jobs; the status is then re-read.

Both post to the URL the job was sent with (``fal_webhook`` for fal); the route's name is
older than fal."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tarsify.domain.errors import InvalidBody, NotFound

from .boundary import check_json
from .envelope import ok
from .params import path_id
from .routing import Auth, Caller, Route, services
from .schemas_callbacks import NoticeAccepted, ProviderNotice


async def runpod_callback(request: web.Request, _caller: Caller) -> web.Response:
    """A job of this execution finished at RunPod or fal: re-read it (the body is not
    trusted)."""
    svc = services(request)
    execution_id = path_id(request)
    token = request.match_info["token"]
    if svc.callbacks is None or not svc.callbacks.verify(execution_id, token):
        raise NotFound()
    notice = await _notice(request)
    if not await svc.executions.notify(execution_id, notice.job_hint):
        raise NotFound()
    return ok(NoticeAccepted(accepted=True))


async def _notice(request: web.Request) -> ProviderNotice:
    # A malformed body still means "look at this execution": the status is re-read anyway.
    # Through the boundary like every body: a job id hint with a NUL is no hint.
    try:
        raw: Any = check_json(await request.read())
        return ProviderNotice.model_validate(raw if isinstance(raw, dict) else {})
    except (ValueError, InvalidBody):
        return ProviderNotice()


ROUTES = [
    Route(
        "POST",
        "/webhooks/runpod/{id}/{token}",
        runpod_callback,
        "RunPod or fal job notification (the URL is the credential)",
        Auth.NONE,
        NoticeAccepted,
        tag="webhooks",
        errors=("ERR_3001",),
        operation_id="notifyRunpodJob",
    ),
]
