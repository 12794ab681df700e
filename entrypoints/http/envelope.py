"""The response envelope: success with ``data`` (and ``meta``), or failure with ``error``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from tarsify.domain.pagination import Page

from . import render
from .views import PageMeta

JSON = "application/json"


def _respond(body: bytes, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def ok(data: BaseModel, *, status: int = 200) -> web.Response:
    """A success envelope around one resource."""
    return _respond(b'{"success":true,"data":' + data.model_dump_json().encode() + b"}", status)


def ok_list(items: Sequence[BaseModel], meta: PageMeta | None = None) -> web.Response:
    """A success envelope around a list, with pagination ``meta`` when given."""
    body = b'{"success":true,"data":[' + b",".join(i.model_dump_json().encode() for i in items)
    body += b"]"
    if meta is not None:
        body += b',"meta":' + meta.model_dump_json().encode()
    return _respond(body + b"}", 200)


def ok_page(page: Page[Any], items: Sequence[BaseModel], limit: int) -> web.Response:
    """A success envelope for one page of a list."""
    return ok_list(items, PageMeta(limit=limit, next_cursor=page.next_cursor))


def ok_fast(
    data: render.Json, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A success envelope around one resource rendered as plain data (``render``)."""
    return _respond(render.dumps({"success": True, "data": data}), status, headers)


def ok_page_fast(page: Page[Any], items: list[render.Json], limit: int) -> web.Response:
    """A success envelope for one page of plain-data items (``render``)."""
    meta = {"limit": limit, "nextCursor": page.next_cursor}
    return _respond(render.dumps({"success": True, "data": items, "meta": meta}), 200)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error envelope as a dict."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error envelope response."""
    payload = error_body(code, message, details)
    try:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    except (TypeError, ValueError):
        # Details that cannot be rendered are dropped rather than turned into a 500.
        body = json.dumps(error_body(code, message), separators=(",", ":")).encode()
    return _respond(body, status, headers)
