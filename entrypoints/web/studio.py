"""The developer's studio pages: ``/studio`` (sign in, the models and their figures),
``/studio/models/new`` and ``/studio/models/{id}`` (configure, preview, test-run,
publish). The pages are shells; ``static/studio*.js`` fill them from the JSON API with the
developer token kept in the tab's session storage. ``POST /studio/preview`` renders the
form consumers would see for a configuration (the marketplace's own form builder).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from entrypoints.http.auth import resolve_caller
from entrypoints.http.boundary import check_json
from entrypoints.http.params import UUID_RE
from entrypoints.http.routing import Auth, services
from tarsify.domain.errors import InvalidBody, TarsModelNotFound
from tarsify.domain.merge import processed_input_schema

from .form import build_form
from .pages import _common, error_page
from .templates import environment, render


async def studio_page(request: web.Request) -> web.Response:
    """``/studio``: sign in with a developer token; the models with their figures."""
    return render("studio.html", _common(request, "studio"))


async def new_model_page(request: web.Request) -> web.Response:
    """``/studio/models/new``: create a model from a base model."""
    context = _common(request, "studio") | {"heading": "New model", "model_id": ""}
    return render("studio_model.html", context)


async def model_page(request: web.Request) -> web.Response:
    """``/studio/models/{id}``: edit, preview, test-run, publish or archive a model."""
    model_id = request.match_info["id"]
    if not UUID_RE.fullmatch(model_id):
        return error_page(request, TarsModelNotFound())
    context = _common(request, "studio") | {"heading": "Model", "model_id": model_id.lower()}
    return render("studio_model.html", context)


def _preview_body(raw: bytes) -> tuple[uuid.UUID, Any]:
    """``baseModelId`` and ``configOverrides`` of the body, decoded as the API's bodies
    are (``check_json``: malformed, too deep, NUL, unpaired surrogates, NaN refused)."""
    data = check_json(raw if raw.strip() else b"{}")
    try:
        base_id = uuid.UUID(str(data["baseModelId"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidBody(
            "Send {baseModelId, configOverrides}",
            details=[{"field": "baseModelId", "message": "must be a UUID"}],
        ) from None
    return base_id, data.get("configOverrides")


async def preview(request: web.Request) -> web.Response:
    """``POST /studio/preview`` (a developer token): ``{baseModelId, configOverrides}`` ->
    the HTML of the form consumers would see (its fields only). A refusal is raised, so
    the error middleware answers it in the API's error envelope."""
    await resolve_caller(request, Auth.DEVELOPER, registered=True)
    base_id, config = _preview_body(await request.read())
    base = (await services(request).catalog.get_base_model(base_id)).base_model
    try:
        schema = processed_input_schema(base.input_schema, config)
    except (ValueError, TypeError) as exc:
        raise InvalidBody(f"Invalid configuration: {exc}") from None
    html = environment().get_template("studio_form.html").render(fields=build_form(schema))
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def install(app: web.Application) -> None:
    """Add the studio's pages to ``app``."""
    app.router.add_get("/studio", studio_page, name="web.studio")
    app.router.add_get("/studio/models/new", new_model_page, name="web.studio_new")
    app.router.add_get("/studio/models/{id}", model_page, name="web.studio_model")
    app.router.add_post("/studio/preview", preview, name="web.studio_preview")
