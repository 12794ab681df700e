"""``/docs``: Swagger UI over ``/openapi.json``, served from the swagger-ui-py package.

The Swagger UI files come from the installed package (no CDN, works offline) and are
served under ``/docs/static``; ``static/docs.js`` starts it, with the Authorize dialog
filled in from the key the visitor signed in with.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

from .templates import render

DOCS_STATIC_PREFIX = "/docs/static"


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's files inside the installed ``swagger_ui`` package."""
    # find_spec locates the package without importing it (its handlers import web
    # frameworks this service does not use).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install -e .)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI's files are missing from {folder}")
    return folder


async def docs_page(request: web.Request) -> web.Response:
    """The interactive API reference."""
    return render("docs.html", {})


def install(app: web.Application) -> None:
    """Serve the page at ``/docs`` and Swagger UI's files under ``/docs/static``."""
    app.router.add_get("/docs", docs_page, name="docs")
    app.router.add_static(DOCS_STATIC_PREFIX, swagger_ui_files(), name="web.docs_static")
