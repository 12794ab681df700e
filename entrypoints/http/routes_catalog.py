"""Catalog routes: GPU endpoints and base models (admins), base models to build on
(developers)."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from tarsify.domain.catalog import BaseModelChanges, EndpointChanges
from tarsify.services.catalog import NewBaseModel, NewEndpoint

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, page_request, path_id
from .routing import Auth, Caller, Route, services
from .schemas_catalog import (
    AdminBaseModelView,
    BaseModelCreate,
    BaseModelUpdate,
    DeveloperBaseModelView,
    EndpointCreate,
    EndpointListItem,
    EndpointUpdate,
    EndpointView,
    admin_base_model_view,
    developer_base_model_view,
    endpoint_changes,
    endpoint_item_view,
    endpoint_view,
)


async def create_endpoint(request: web.Request, _caller: Caller) -> web.Response:
    """Register a GPU endpoint."""
    data = await body(request, EndpointCreate)
    endpoint = await services(request).catalog.create_endpoint(
        NewEndpoint(**endpoint_changes(data.model_dump(), creating=True))
    )
    return ok(endpoint_view(endpoint), status=201)


async def list_endpoints(request: web.Request, _caller: Caller) -> web.Response:
    """All endpoints, newest first, with their base model counts."""
    page_req = page_request(request)
    page = await services(request).catalog.list_endpoints(page_req)
    return ok_page(page, [endpoint_item_view(row) for row in page.items], page_req.limit)


async def update_endpoint(request: web.Request, _caller: Caller) -> web.Response:
    """Change some fields of an endpoint."""
    endpoint_id = path_id(request)
    data = await body(request, EndpointUpdate)
    changes = cast(EndpointChanges, endpoint_changes(data.changes()))  # the same names
    endpoint = await services(request).catalog.update_endpoint(endpoint_id, changes)
    return ok(endpoint_view(endpoint))


async def delete_endpoint(request: web.Request, _caller: Caller) -> web.Response:
    """Soft delete: the endpoint becomes inactive."""
    endpoint = await services(request).catalog.deactivate_endpoint(path_id(request))
    return ok(endpoint_view(endpoint))


async def create_base_model(request: web.Request, _caller: Caller) -> web.Response:
    """Register a base model on an existing endpoint."""
    data = await body(request, BaseModelCreate)
    row = await services(request).catalog.create_base_model(NewBaseModel(**data.model_dump()))
    return ok(admin_base_model_view(row), status=201)


async def list_base_models(request: web.Request, _caller: Caller) -> web.Response:
    """All base models, newest first, with their endpoints."""
    page_req = page_request(request)
    page = await services(request).catalog.list_base_models(page_req)
    return ok_page(page, [admin_base_model_view(row) for row in page.items], page_req.limit)


async def update_base_model(request: web.Request, _caller: Caller) -> web.Response:
    """Change some fields of a base model."""
    base_model_id = path_id(request)
    data = await body(request, BaseModelUpdate)
    changes = cast(BaseModelChanges, data.changes())  # the same names, validated
    row = await services(request).catalog.update_base_model(base_model_id, changes)
    return ok(admin_base_model_view(row))


async def delete_base_model(request: web.Request, _caller: Caller) -> web.Response:
    """Soft delete: the base model becomes inactive."""
    row = await services(request).catalog.deactivate_base_model(path_id(request))
    return ok(admin_base_model_view(row))


async def browse_base_models(request: web.Request, _caller: Caller) -> web.Response:
    """Active base models on active endpoints, newest first."""
    page_req = page_request(request)
    page = await services(request).catalog.list_base_models(page_req, browsable_only=True)
    items = [developer_base_model_view(row) for row in page.items]
    return ok_page(page, items, page_req.limit)


_ENDPOINT = "/api/admin/endpoints"
_BASE = "/api/admin/base-models"

ROUTES = [
    Route(
        "POST",
        _ENDPOINT,
        create_endpoint,
        "Register a GPU endpoint",
        Auth.ADMIN,
        EndpointView,
        EndpointCreate,
        status=201,
        tag="admin",
        errors=("ERR_3002",),
    ),
    Route(
        "GET",
        _ENDPOINT,
        list_endpoints,
        "List GPU endpoints",
        Auth.ADMIN,
        EndpointListItem,
        many=True,
        params=LIST_PARAMS,
        tag="admin",
    ),
    Route(
        "PATCH",
        _ENDPOINT + "/{id}",
        update_endpoint,
        "Change a GPU endpoint",
        Auth.ADMIN,
        EndpointView,
        EndpointUpdate,
        tag="admin",
        errors=("ERR_3001", "ERR_3002"),
    ),
    Route(
        "DELETE",
        _ENDPOINT + "/{id}",
        delete_endpoint,
        "Deactivate a GPU endpoint",
        Auth.ADMIN,
        EndpointView,
        tag="admin",
        errors=("ERR_3001",),
    ),
    Route(
        "POST",
        _BASE,
        create_base_model,
        "Register a base model",
        Auth.ADMIN,
        AdminBaseModelView,
        BaseModelCreate,
        status=201,
        tag="admin",
        errors=("ERR_3001", "ERR_3002"),
    ),
    Route(
        "GET",
        _BASE,
        list_base_models,
        "List base models",
        Auth.ADMIN,
        AdminBaseModelView,
        many=True,
        params=LIST_PARAMS,
        tag="admin",
        operation_id="adminListBaseModels",
    ),
    Route(
        "PATCH",
        _BASE + "/{id}",
        update_base_model,
        "Change a base model",
        Auth.ADMIN,
        AdminBaseModelView,
        BaseModelUpdate,
        tag="admin",
        errors=("ERR_5508", "ERR_3001", "ERR_3002"),
    ),
    Route(
        "DELETE",
        _BASE + "/{id}",
        delete_base_model,
        "Deactivate a base model",
        Auth.ADMIN,
        AdminBaseModelView,
        tag="admin",
        errors=("ERR_5508",),
    ),
    Route(
        "GET",
        "/api/developer/base-models",
        browse_base_models,
        "Browse base models",
        Auth.DEVELOPER,
        DeveloperBaseModelView,
        many=True,
        params=LIST_PARAMS,
        tag="developer",
        operation_id="browseBaseModels",
    ),
]
