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

from .routing import Auth, Route
from .views import PageMeta

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
            "details": {},
        },
    },
    "ErrorEnvelope": {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {"$ref": REF.format(model="ErrorBody")},
        },
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


def _success(route: Route) -> dict[str, Any]:
    data = {"type": "array", "items": _ref(route.response)} if route.many else _ref(route.response)
    props: dict[str, Any] = {"success": {"const": True}, "data": data}
    required = ["success", "data"]
    if route.many:
        props["meta"] = _ref(PageMeta)
        required.append("meta")
    schema = {"type": "object", "required": required, "properties": props}
    answer: dict[str, Any] = {
        "description": "Success",
        "content": {"application/json": {"schema": schema}},
    }
    if route.response_headers:
        answer["headers"] = {
            h.name: {"schema": h.schema, "description": h.description, "required": h.required}
            for h in route.response_headers
        }
    return answer


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="ErrorEnvelope")}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_codes(route: Route) -> list[str]:
    codes = [c for c in AUTH_ERRORS[route.auth] if route.registered or c != "ERR_1004"]
    if route.request is not None:
        codes += ["ERR_2001", "ERR_4130"]
    if route.many:
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
    op: dict[str, Any] = {
        "operationId": f"{route.tag}_{route.handler.__name__}",
        "summary": route.summary,
        "tags": [route.tag],
        "x-auth": route.auth.value,
        "x-error-codes": _error_codes(route),
        "parameters": _parameters(route),
        "responses": {str(s): _success(route) for s in (route.status, *route.also)},
    }
    if route.request is not None:
        optional = not route.request.model_json_schema().get("required")
        op["requestBody"] = {
            "required": not optional,
            "content": {"application/json": {"schema": _ref(route.request)}},
        }
    op["responses"]["default"] = _error("Error (see x-error-codes)")
    if route.auth is not Auth.NONE:
        op["security"] = [{"bearer": []}]
    return op


def build_document(
    routes: list[Route], *, title: str = "Tarsify API", version: str = "1.0.0"
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    _, defs = models_json_schema(_models(routes), ref_template=REF)
    schemas = {**defs.get("$defs", {}), **ERROR_SCHEMAS}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
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


def install(app: web.Application, routes: list[Route]) -> None:
    """Build the document once and serve it at /openapi.json."""
    document = build_document(routes)
    app[OPENAPI_KEY] = json.dumps(document, separators=(",", ":")).encode()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=request.app[OPENAPI_KEY], content_type="application/json")

    app.router.add_get("/openapi.json", openapi_json)
