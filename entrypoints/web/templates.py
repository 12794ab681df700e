"""Rendering the HTML pages: one jinja2 environment, escaping on, and the pages' headers.

jinja2 is imported when the first page is rendered, not when the app starts: a process
that serves only the API never holds it (about 2 MiB per worker).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Scripts come only from this server (no inline script, no eval); images and sounds may be
# data: URIs (outputs today) or links to files anywhere (signed file URLs, S3).
# Swagger UI sets inline styles, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: http: https:",
        "media-src 'self' data: blob: http: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def environment() -> jinja2.Environment:
    """The pages' jinja2 environment (made once, on first use)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Everything shown comes from the API (titles and descriptions are written by
        # developers): every value is escaped unless a template says otherwise; none does.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """The page ``name`` rendered with ``context``, with the pages' security headers."""
    text = environment().get_template(name).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", headers=PAGE_HEADERS)
