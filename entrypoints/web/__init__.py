"""The web pages: the marketplace, model pages, the run history, sign-in, the developer's
studio and the interactive API docs. Plain HTML from jinja2 templates, with a little dependency-free
JavaScript and CSS served by the app (``static/``): no build step, nothing from a CDN.
"""

from __future__ import annotations

from aiohttp import web

from . import demo, docs, pages, studio
from .templates import STATIC

WEB_STATIC_PREFIX = "/web/static"


def install(app: web.Application, *, demo_sign_in: bool = False) -> None:
    """Add the pages to ``app``; ``demo_sign_in`` mounts the demo's one-click sign-in.

    Every route is named ``web.*`` (the API reference documents only the JSON API and
    ``/docs``).
    """
    app.router.add_get("/", pages.marketplace, name="web.marketplace")
    app.router.add_get("/models/{slug}", pages.model_page, name="web.model")
    app.router.add_get("/executions", pages.executions_page, name="web.executions")
    app.router.add_get("/sign-in", pages.sign_in_page, name="web.sign_in")
    studio.install(app)
    app.router.add_static(WEB_STATIC_PREFIX, STATIC, name="web.static")
    docs.install(app)
    if demo_sign_in:
        demo.install(app)
