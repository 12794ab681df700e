"""Marketplace routes: browse published models (anyone may)."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.models import ModelCategory

from .envelope import ok, ok_page_fast
from .params import LIST_PARAMS, enum_query, page_request
from .routing import Auth, Caller, Param, Route, services
from .schemas_marketplace import (
    MarketplaceDetailView,
    MarketplaceItem,
    marketplace_detail_view,
    marketplace_item,
)


async def list_models(request: web.Request, _caller: Caller) -> web.Response:
    """Published models, newest published first, optionally of one category."""
    page_req = page_request(request)
    category = enum_query(request, "category", ModelCategory)
    page = await services(request).marketplace.list(page_req, category=category)
    items = [marketplace_item(e) for e in page.items]
    return ok_page_fast(page, items, page_req.limit)


async def model_detail(request: web.Request, _caller: Caller) -> web.Response:
    """A published model with its processed input schema."""
    detail = await services(request).marketplace.detail(request.match_info["slug"])
    return ok(marketplace_detail_view(detail))


_CATEGORY = Param(
    "category", {"type": "string", "enum": [c.value for c in ModelCategory]}, "Only this category"
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
        operation_id="listModels",
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
        operation_id="getModel",
    ),
]
