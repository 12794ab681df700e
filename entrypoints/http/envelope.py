"""The response envelope: success with ``data`` (and ``meta``), or failure with ``error``;
and the HTTP status of every error code the core raises."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from tarsify.domain.errors import TarsifyError
from tarsify.domain.pagination import Page

from .encoding import Json, dumps
from .schemas import PageMeta

JSON = "application/json"

# The HTTP status of each code of ``tarsify.domain.errors`` (an adapter's error reuses one
# of these codes). A code missing here would answer 500: a test requires every one.
STATUS_BY_CODE: dict[str, int] = {
    "ERR_1001": 401,  # authentication required
    "ERR_1002": 401,  # invalid or expired token
    "ERR_1003": 403,  # admin access required
    "ERR_1004": 404,  # user not registered
    "ERR_1005": 409,  # user already registered
    "ERR_1006": 403,  # file link invalid or expired
    "ERR_2001": 400,  # invalid request body
    "ERR_2002": 400,  # invalid query parameters
    "ERR_2003": 400,  # invalid path parameter
    "ERR_2005": 422,  # inputs do not satisfy the model's schema
    "ERR_3001": 404,  # resource not found
    "ERR_3002": 409,  # resource already exists
    "ERR_3003": 409,  # resource conflict
    "ERR_3004": 409,  # too many API keys
    "ERR_4290": 429,  # too many active executions
    "ERR_4130": 413,  # body or inputs too large
    "ERR_4291": 429,  # too many open event streams
    "ERR_4292": 429,  # run rate limit reached
    "ERR_4293": 429,  # request rate limit reached (per address)
    "ERR_5001": 500,  # internal error
    "ERR_5002": 503,  # database, file storage or identity provider unavailable
    "ERR_5500": 404,  # Tars model not found
    "ERR_5501": 400,  # model is not published
    "ERR_5502": 400,  # GPU endpoint is not active
    "ERR_5503": 409,  # slug already exists
    "ERR_5504": 400,  # invalid status transition
    "ERR_5505": 404,  # execution not found
    "ERR_5507": 409,  # execution is not cancellable
    "ERR_5508": 404,  # base model not found
    "ERR_5509": 400,  # base model is not active
    "ERR_5510": 502,  # GPU provider error, output file download failed
    "ERR_6001": 402,  # insufficient credits
}


def error_status(error: TarsifyError) -> int:
    """The HTTP status answering ``error``."""
    return STATUS_BY_CODE.get(error.code, 500)


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
    data: Json, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A success envelope around one resource rendered as plain data (``encoding``)."""
    return _respond(dumps({"success": True, "data": data}), status, headers)


def ok_page_fast(page: Page[Any], items: list[Json], limit: int) -> web.Response:
    """A success envelope for one page of plain-data items (``encoding``)."""
    meta = {"limit": limit, "nextCursor": page.next_cursor}
    return _respond(dumps({"success": True, "data": items, "meta": meta}), 200)


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
