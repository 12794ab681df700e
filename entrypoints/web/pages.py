"""The pages: the marketplace, a model's page, the history and the sign-in page.

The marketplace and the model pages are rendered here from the same services the JSON
API uses; what needs the consumer's key (running, the history) is done in the browser by
the scripts in ``static/``, which call the JSON API with the key from session storage.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from entrypoints.http.envelope import error_status
from entrypoints.http.params import enum_query
from entrypoints.http.routing import services
from entrypoints.http.schemas_marketplace import marketplace_item
from tarsify.domain.errors import TarsifyError
from tarsify.domain.models import ExecutionStatus, ModelCategory
from tarsify.domain.pagination import Cursor, PageRequest

from .form import build_form
from .templates import render

PAGE_SIZE = 12
CATEGORY_LABELS = {
    "IMAGE": "Images",
    "AUDIO": "Audio",
    "TEXT": "Text",
    "VIDEO": "Video",
    "DOCUMENT": "Documents",
}


def _common(request: web.Request, page: str) -> dict[str, Any]:
    settings = services(request).settings
    return {
        "page": page,
        "demo": settings.auth.demo_sign_in,
        "simulated": settings.gpu.simulated,
    }


def error_page(request: web.Request, exc: TarsifyError) -> web.Response:
    """An HTML page for a refused request, with the API's status and message."""
    status = error_status(exc)
    heading = "Not found" if status == 404 else "This request cannot be shown"
    context = _common(request, "error") | {"heading": heading, "message": exc.message}
    return render("error.html", context, status=status)


def _page_request(request: web.Request) -> PageRequest:
    raw = request.query.get("cursor")
    return PageRequest(limit=PAGE_SIZE, after=Cursor.decode(raw) if raw else None)


def _url(category: str | None, cursor: str | None = None) -> str:
    query = {k: v for k, v in (("category", category), ("cursor", cursor)) if v}
    return "/?" + urlencode(query) if query else "/"


async def marketplace(request: web.Request) -> web.Response:
    """``/``: published models as cards, filtered by category, a page at a time."""
    try:
        category = enum_query(request, "category", ModelCategory)
        page = await services(request).marketplace.list(_page_request(request), category)
    except TarsifyError as exc:
        return error_page(request, exc)
    chosen = category.value if category else None
    context = _common(request, "marketplace") | {
        "items": [marketplace_item(e) for e in page.items],
        "categories": [(None, "All"), *CATEGORY_LABELS.items()],
        "category": chosen,
        "category_url": _url,
        "next_url": _url(chosen, page.next_cursor) if page.next_cursor else None,
        "first_url": _url(chosen) if "cursor" in request.query else None,
    }
    return render("marketplace.html", context)


async def model_page(request: web.Request) -> web.Response:
    """``/models/{slug}``: the model, its run form, and room for the result."""
    try:
        detail = await services(request).marketplace.detail(request.match_info["slug"])
    except TarsifyError as exc:
        return error_page(request, exc)
    context = _common(request, "model") | {
        "item": marketplace_item(detail.entry.listing()),
        "fields": build_form(detail.input_schema),
    }
    return render("model.html", context)


async def executions_page(request: web.Request) -> web.Response:
    """``/executions``: the signed-in consumer's runs (filled in by ``history.js``)."""
    statuses = [s.value for s in ExecutionStatus]
    return render("executions.html", _common(request, "executions") | {"statuses": statuses})


async def sign_in_page(request: web.Request) -> web.Response:
    """``/sign-in``: paste an API key (and, in demo mode, one click as the demo consumer)."""
    return render("sign_in.html", _common(request, "sign-in"))
