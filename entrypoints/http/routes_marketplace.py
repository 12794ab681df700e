"""Marketplace routes: browse published models (anyone), run one (consumers)."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.models import ModelCategory

from . import render, serialize
from .auth import consumer_id
from .envelope import ok, ok_fast, ok_page_fast
from .params import (
    LIST_PARAMS,
    MAX_WAIT_S,
    body,
    enum_query,
    idempotency_key,
    page_request,
    wait_seconds,
)
from .routing import Auth, Param, Route, services
from .schemas import RunRequest
from .views import ExecutionView, MarketplaceDetailView, MarketplaceItem


async def list_models(request: web.Request) -> web.Response:
    """Published models, newest published first, optionally of one category."""
    page_req = page_request(request)
    category = enum_query(request, "category", ModelCategory)
    page = await services(request).marketplace.list(page_req, category=category)
    items = [render.marketplace_item(e) for e in page.items]
    return ok_page_fast(page, items, page_req.limit)


async def model_detail(request: web.Request) -> web.Response:
    """A published model with its processed input schema."""
    detail = await services(request).marketplace.detail(request.match_info["slug"])
    return ok(serialize.marketplace_detail(detail))


async def run_model(request: web.Request) -> web.Response:
    """Start an execution: 202, or 200 when ``?wait=`` saw it finish."""
    owner = await consumer_id(request)
    wait_s = wait_seconds(request)
    key = idempotency_key(request)
    data = await body(request, RunRequest)
    svc = services(request)
    result = await svc.executions.run(
        owner, request.match_info["slug"], data.inputs, idempotency_key=key, wait_s=wait_s
    )
    view = result.view
    status = 200 if wait_s > 0 and view.execution.is_terminal else 202
    return ok_fast(render.execution(view), status=status)


_CATEGORY = Param(
    "category", {"type": "string", "enum": [c.value for c in ModelCategory]}, "Only this category"
)
_WAIT = Param(
    "wait",
    {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
    "Seconds to wait for a terminal status before answering",
)
_IDEMPOTENCY = Param(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    "Repeat-safe key: the same key and body return the first execution",
    where="header",
)

ROUTES = [
    Route(
        "GET",
        "/api/marketplace/models",
        list_models,
        "Browse published models",
        Auth.NONE,
        MarketplaceItem,
        many=True,
        params=(*LIST_PARAMS, _CATEGORY),
        tag="marketplace",
    ),
    Route(
        "GET",
        "/api/marketplace/models/{slug}",
        model_detail,
        "A published model",
        Auth.NONE,
        MarketplaceDetailView,
        tag="marketplace",
        errors=("ERR_5500",),
    ),
    Route(
        "POST",
        "/api/marketplace/models/{slug}/run",
        run_model,
        "Run a published model",
        Auth.CONSUMER,
        ExecutionView,
        RunRequest,
        status=202,
        also=(200,),
        params=(_WAIT, _IDEMPOTENCY),
        tag="marketplace",
        errors=("ERR_5500", "ERR_5501", "ERR_5502", "ERR_5509", "ERR_2005", "ERR_3003", "ERR_5510"),
    ),
]
