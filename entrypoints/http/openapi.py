"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Served at ``GET /openapi.json``; ``GET /docs`` (``entrypoints/web/docs.py``) shows the same
document in Swagger UI, with an Authorize button and try-it-out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .envelope import STATUS_BY_CODE
from .middleware import HTTP_ERROR_CODES
from .routing import Auth, Route
from .schemas import PageMeta

REF = "#/components/schemas/{model}"
PATH_PARAM_RE = re.compile(r"{(\w+)}")
OPENAPI_KEY = web.AppKey("openapi", bytes)

ERROR_SCHEMAS: dict[str, Any] = {
    "ErrorBody": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "pattern": "^ERR_[0-9]{4}$"},
            "message": {"type": "string"},
            "details": {"description": "Per-field problems or other context (optional)"},
        },
        "description": "What went wrong: a stable code, a message for people, details",
    },
    "ErrorEnvelope": {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {"$ref": REF.format(model="ErrorBody")},
        },
        "description": "Error envelope: every error answer has this shape",
    },
}
# The order Swagger UI shows the groups in: what most readers come for first.
TAGS = [
    {"name": "marketplace", "description": "Browse published models and run one"},
    {"name": "consumer", "description": "A consumer's account, executions and API keys"},
    {"name": "developer", "description": "A developer's account and Tars models"},
    {"name": "admin", "description": "GPU endpoints and base models"},
    {"name": "health", "description": "Liveness and readiness probes"},
    {"name": "webhooks", "description": "Called by the GPU provider, not by clients"},
]


DESCRIPTION = (
    'Every JSON answer is an envelope: `{"success": true, "data": ...}` (lists add '
    '`meta` with `nextCursor`), or `{"success": false, "error": {"code": '
    '"ERR_xxxx", "message": "...", "details": ...}}`. Each operation lists '
    "the codes it can answer with in `x-error-codes`, grouped by HTTP status in its "
    "responses. Authenticate with `Authorization: Bearer <token or tsk_ API key>`."
)


# Every error code the service answers with -> its HTTP status.
ERROR_STATUS = {code: status for status, (code, _) in HTTP_ERROR_CODES.items()} | STATUS_BY_CODE
AUTH_ERRORS = {
    Auth.NONE: (),
    Auth.CONSUMER: ("ERR_1001", "ERR_1002", "ERR_1004"),
    Auth.DEVELOPER: ("ERR_1001", "ERR_1002", "ERR_1004"),
    Auth.ADMIN: ("ERR_1001", "ERR_1002", "ERR_1003"),
}


def _models(routes: list[Route]) -> list[tuple[type[BaseModel], Any]]:
    found: dict[tuple[type[BaseModel], str], None] = {(PageMeta, "serialization"): None}
    for route in routes:
        found[(route.response, "serialization")] = None
        if route.request is not None:
            found[(route.request, "validation")] = None
    return list(found)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _envelope_name(route: Route) -> str:
    op = route.operation
    return op[0].upper() + op[1:] + "Response"


def _envelope(route: Route) -> dict[str, Any]:
    """The success envelope of one operation (a named schema shared by its statuses)."""
    data = {"type": "array", "items": _ref(route.response)} if route.many else _ref(route.response)
    props: dict[str, Any] = {"success": {"const": True}, "data": data}
    required = ["success", "data"]
    if route.many and route.paged:
        props["meta"] = _ref(PageMeta)
        required.append("meta")
    return {
        "type": "object",
        "title": _envelope_name(route),
        "description": "Success envelope: `data` holds the answer"
        + (", `meta` the next page's cursor" if route.many and route.paged else ""),
        "required": required,
        "properties": props,
    }


def _success(route: Route) -> dict[str, Any]:
    if route.media_type == "text/event-stream":
        content: dict[str, Any] = {
            route.media_type: {
                "schema": {"type": "string"},
                "x-event-data": _ref(route.response),
            }
        }
        description = (
            "Server-Sent Events: `event: status` with `data:` "
            f"{route.response.__name__} JSON at once and on every change; comment lines as "
            "heartbeats; the stream ends after a terminal status"
        )
    else:
        content = {route.media_type: {"schema": {"$ref": REF.format(model=_envelope_name(route))}}}
        description = "Success"
    answer: dict[str, Any] = {"description": description, "content": content}
    if route.response_headers:
        answer["headers"] = {
            h.name: {"schema": h.schema, "description": h.description, "required": h.required}
            for h in route.response_headers
        }
    return answer


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="ErrorEnvelope")}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors_by_status(codes: list[str]) -> dict[str, dict[str, Any]]:
    """One documented answer per HTTP status, naming the codes it may carry."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS.get(code, 500), []).append(code)
    return {
        str(status): _error(f"Error: {', '.join(found)}")
        for status, found in sorted(by_status.items())
    }


def _error_codes(route: Route) -> list[str]:
    codes = [c for c in AUTH_ERRORS[route.auth] if route.registered or c != "ERR_1004"]
    if route.request is not None:
        codes += ["ERR_2001", "ERR_4130"]
    if route.many and route.paged:
        codes.append("ERR_2002")
    if "{id}" in route.path:
        codes.append("ERR_2003")
    return [*codes, *route.errors]


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in PATH_PARAM_RE.findall(route.path):
        schema = {"type": "string", "format": "uuid"} if name == "id" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for p in route.params:
        params.append(
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "schema": p.schema,
                "description": p.description,
            }
        )
    return params


def _operation(route: Route) -> dict[str, Any]:
    codes = _error_codes(route)
    op: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "tags": [route.tag],
        "x-auth": route.auth.value,
        "x-error-codes": codes,
        "parameters": _parameters(route),
        "responses": {str(s): _success(route) for s in (route.status, *route.also)},
    }
    op["responses"] |= _errors_by_status(codes)
    if route.request is not None:
        optional = not route.request.model_json_schema().get("required")
        op["requestBody"] = {
            "required": not optional,
            "content": {route.request_media_type: {"schema": _ref(route.request)}},
        }
    op["responses"]["default"] = _error(
        "Any other error: ERR_5001 (500, internal) or ERR_5002 (503, database unavailable)"
    )
    if route.auth is not Auth.NONE:
        op["security"] = [{"bearer": []}]
    return op


def build_document(
    routes: list[Route],
    *,
    title: str = "Tarsify API",
    version: str = "1.0.0",
    server_url: str = "/",
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``, served from ``server_url``."""
    _, defs = models_json_schema(_models(routes), ref_template=REF)
    schemas = {**defs.get("$defs", {}), **ERROR_SCHEMAS}
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, Route] = {}
    for route in routes:
        clash = seen.setdefault(route.operation, route)
        if clash is not route:
            raise ValueError(f"operationId {route.operation} is used twice")
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
        if route.media_type == "application/json":
            schemas[_envelope_name(route)] = _envelope(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": DESCRIPTION},
        "servers": [{"url": server_url, "description": "This server"}],
        "tags": [t for t in TAGS if any(r.tag == t["name"] for r in routes)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT or API key",
                    "description": "A token of the route's audience (consumers or "
                    "developers), or a consumer API key (`tsk_...`) on consumer routes",
                }
            },
        },
    }


def install(app: web.Application, routes: list[Route], server_url: str = "/") -> None:
    """Build the document once and serve it at /openapi.json."""
    document = build_document(routes, server_url=server_url)
    app[OPENAPI_KEY] = json.dumps(document, separators=(",", ":")).encode()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=request.app[OPENAPI_KEY], content_type="application/json")

    app.router.add_get("/openapi.json", openapi_json)
