"""Studio routes: a developer's own Tars models and their figures."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import BaseModelNotFound
from tarsify.domain.figures import DEFAULT_DAYS, MAX_DAYS
from tarsify.domain.models import BaseModel
from tarsify.domain.tars_model import TarsModelChanges
from tarsify.services.studio import NewTarsModel, StudioModel

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, days_query, page_request, path_id
from .routing import Auth, Caller, Param, Route, Services, services
from .schemas_studio import (
    DeveloperFiguresView,
    FiguresView,
    TarsModelCreate,
    TarsModelSummary,
    TarsModelUpdate,
    TarsModelView,
    developer_figures_view,
    figures_view,
    tars_model_view,
    tars_summary_view,
)


async def _with_base(svc: Services, studio: StudioModel, status: int = 200) -> web.Response:
    base: BaseModel | None = None
    try:
        base = (await svc.catalog.get_base_model(studio.model.base_model_id)).base_model
    except BaseModelNotFound:
        base = None
    return ok(tars_model_view(studio, base), status=status)


async def create_tars_model(request: web.Request, caller: Caller) -> web.Response:
    """Create a DRAFT Tars model; the slug comes from the title when not given."""
    owner = caller.account_id
    data = await body(request, TarsModelCreate)
    new = NewTarsModel(
        base_model_id=data.base_model,
        title=data.title,
        slug=data.slug,
        description=data.description,
        config_overrides=ConfigOverrides.parse(
            None if data.config_overrides is None else data.config_overrides.to_json()
        ),
        price_per_run=data.price_per_run,
    )
    svc = services(request)
    return await _with_base(svc, await svc.studio.create(owner, new), status=201)


async def list_tars_models(request: web.Request, caller: Caller) -> web.Response:
    """The developer's own Tars models, newest first, every status."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await services(request).studio.list(owner, page_req)
    return ok_page(page, [tars_summary_view(t) for t in page.items], page_req.limit)


async def get_tars_model(request: web.Request, caller: Caller) -> web.Response:
    """One of the developer's Tars models with its publish problems."""
    owner = caller.account_id
    svc = services(request)
    return await _with_base(svc, await svc.studio.get(owner, path_id(request)))


async def update_tars_model(request: web.Request, caller: Caller) -> web.Response:
    """Change a Tars model; ``status: PUBLISHED`` publishes it when its config is valid."""
    owner = caller.account_id
    model_id = path_id(request)
    data = await body(request, TarsModelUpdate)
    svc = services(request)
    changes = cast(TarsModelChanges, data.changes())  # the same names, validated
    return await _with_base(svc, await svc.studio.update(owner, model_id, changes))


async def archive_tars_model(request: web.Request, caller: Caller) -> web.Response:
    """Archive a Tars model: it leaves the marketplace, its executions are kept."""
    owner = caller.account_id
    svc = services(request)
    return await _with_base(svc, await svc.studio.archive(owner, path_id(request)))


async def model_figures(request: web.Request, caller: Caller) -> web.Response:
    """An own model's figures over the last ``?days=`` UTC days."""
    model_id = path_id(request)
    days = days_query(request, DEFAULT_DAYS, MAX_DAYS)
    figures = await services(request).studio.model_figures(caller.account_id, model_id, days)
    return ok(figures_view(figures))


async def developer_figures(request: web.Request, caller: Caller) -> web.Response:
    """The developer's figures over all their models, and each model's line."""
    days = days_query(request, DEFAULT_DAYS, MAX_DAYS)
    found = await services(request).studio.developer_figures(caller.account_id, days)
    return ok(developer_figures_view(found))


_TARS = "/api/developer/tars-models"
_DAYS = Param(
    "days",
    {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": DEFAULT_DAYS},
    "The last N days (UTC, today included)",
)

ROUTES = [
    Route(
        "POST",
        _TARS,
        create_tars_model,
        "Create a Tars model",
        Auth.DEVELOPER,
        TarsModelView,
        TarsModelCreate,
        status=201,
        tag="developer",
        errors=("ERR_5508", "ERR_5509", "ERR_5503"),
    ),
    Route(
        "GET",
        _TARS,
        list_tars_models,
        "List own Tars models",
        Auth.DEVELOPER,
        TarsModelSummary,
        many=True,
        params=LIST_PARAMS,
        tag="developer",
    ),
    Route(
        "GET",
        _TARS + "/{id}",
        get_tars_model,
        "Get an own Tars model",
        Auth.DEVELOPER,
        TarsModelView,
        tag="developer",
        errors=("ERR_5500",),
    ),
    Route(
        "PATCH",
        _TARS + "/{id}",
        update_tars_model,
        "Change or publish an own Tars model",
        Auth.DEVELOPER,
        TarsModelView,
        TarsModelUpdate,
        tag="developer",
        errors=("ERR_5500", "ERR_5503", "ERR_5504"),
    ),
    Route(
        "DELETE",
        _TARS + "/{id}",
        archive_tars_model,
        "Archive an own Tars model",
        Auth.DEVELOPER,
        TarsModelView,
        tag="developer",
        errors=("ERR_5500", "ERR_5504"),
    ),
    Route(
        "GET",
        _TARS + "/{id}/stats",
        model_figures,
        "An own model's figures",
        Auth.DEVELOPER,
        FiguresView,
        params=(_DAYS,),
        tag="developer",
        errors=("ERR_5500", "ERR_2002"),
    ),
    Route(
        "GET",
        "/api/developer/stats",
        developer_figures,
        "The developer's figures over all their models",
        Auth.DEVELOPER,
        DeveloperFiguresView,
        params=(_DAYS,),
        tag="developer",
        errors=("ERR_2002",),
    ),
]
