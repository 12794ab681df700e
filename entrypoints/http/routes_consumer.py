"""Consumer routes: own executions."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.models import ExecutionStatus

from .envelope import ok_fast, ok_page_fast
from .outputs import execution_json
from .params import LIST_PARAMS, enum_query, page_request, path_id, slug_query
from .routing import Auth, Caller, Param, Route, services
from .views import ExecutionView


async def get_execution(request: web.Request, caller: Caller) -> web.Response:
    """One own execution, refreshed from the provider when due."""
    owner = caller.account_id
    svc = services(request)
    view = await svc.executions.get(owner, path_id(request))
    return ok_fast(await execution_json(request, view))


async def list_executions(request: web.Request, caller: Caller) -> web.Response:
    """Own executions, newest first, optionally by status and model slug."""
    owner = caller.account_id
    page_req = page_request(request)
    status = enum_query(request, "status", ExecutionStatus)
    model = slug_query(request, "model")
    svc = services(request)
    page = await svc.executions.list(owner, page_req, status=status, model_slug=model)
    items = [await execution_json(request, v) for v in page.items]
    return ok_page_fast(page, items, page_req.limit)


async def cancel_execution(request: web.Request, caller: Caller) -> web.Response:
    """Cancel an own execution; 409 ERR_5507 once it is terminal."""
    owner = caller.account_id
    svc = services(request)
    view = await svc.executions.cancel(owner, path_id(request))
    return ok_fast(await execution_json(request, view))


_STATUS = Param(
    "status", {"type": "string", "enum": [s.value for s in ExecutionStatus]}, "Only this status"
)
_MODEL = Param(
    "model",
    {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
    "Only executions of the model with this slug",
)
_EXEC = "/api/consumer/executions"

ROUTES = [
    Route(
        "GET",
        _EXEC,
        list_executions,
        "List own executions",
        Auth.CONSUMER,
        ExecutionView,
        many=True,
        params=(*LIST_PARAMS, _STATUS, _MODEL),
        tag="consumer",
    ),
    Route(
        "GET",
        _EXEC + "/{id}",
        get_execution,
        "Get an own execution",
        Auth.CONSUMER,
        ExecutionView,
        tag="consumer",
        errors=("ERR_5505",),
    ),
    Route(
        "POST",
        _EXEC + "/{id}/cancel",
        cancel_execution,
        "Cancel an own execution",
        Auth.CONSUMER,
        ExecutionView,
        tag="consumer",
        errors=("ERR_5505", "ERR_5507", "ERR_5510"),
    ),
]
