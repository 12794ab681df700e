"""The OpenAPI document: served, complete, its interactive docs served offline, and honoured
under generated input."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from entrypoints.container import build_container
from entrypoints.http.app import ROUTES, create_app

from .conftest import make_settings
from .support import Api, base_model_body, endpoint_body, tokens

EXAMPLES_PER_OPERATION = 12
AUTH_IDENTITY = {"admin": "admin", "developer": "developer_x", "consumer": "consumer_a"}


async def test_document_lists_every_route(api: Api) -> None:
    doc = await api.ok_raw("/openapi.json")
    assert doc["openapi"].startswith("3.1")
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {(r.method, r.path) for r in ROUTES}
    run = doc["paths"]["/api/marketplace/models/{slug}/run"]["post"]
    assert run["operationId"] == "runModel"
    assert {"202", "200", "default"} <= set(run["responses"])
    # One response schema for every success status, a named envelope around the view.
    refs = {
        run["responses"][s]["content"]["application/json"]["schema"]["$ref"] for s in ("200", "202")
    }
    assert refs == {"#/components/schemas/RunModelResponse"}
    envelope = doc["components"]["schemas"]["RunModelResponse"]
    assert envelope["properties"]["data"] == {"$ref": "#/components/schemas/ExecutionView"}
    # Every code the operation can answer with is under its HTTP status.
    assert "ERR_2005" in run["responses"]["422"]["description"]
    assert "ERR_5510" in run["responses"]["502"]["description"]
    assert set(run["x-error-codes"]) >= {"ERR_2001", "ERR_2005", "ERR_5500", "ERR_3003"}
    assert doc["servers"] and doc["servers"][0]["url"].startswith("http")
    assert run["security"] == [{"bearer": []}] and run["x-auth"] == "consumer"
    headers = {p["name"]: p for p in run["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Prefer", "Idempotency-Key"}
    for status in ("200", "202"):
        answer_headers = run["responses"][status]["headers"]
        assert answer_headers["Location"]["required"] is True
        assert answer_headers["Preference-Applied"]["required"] is False
    schemas = doc["components"]["schemas"]
    assert "runpodEndpointId" in schemas["EndpointView"]["properties"]
    assert "providerEndpointId" in schemas["EndpointView"]["properties"]
    for name in (
        "ExecutionView",
        "TarsModelView",
        "MarketplaceDetailView",
        "DeveloperBaseModelView",
    ):
        assert "runpodEndpointId" not in schemas[name]["properties"], name
        assert "providerEndpointId" not in schemas[name]["properties"], name
    assert schemas["EndpointCreate"]["additionalProperties"] is False


async def test_operation_ids_are_unique_camel_case_and_do_not_stutter(api: Api) -> None:
    doc = await api.ok_raw("/openapi.json")
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(ROUTES)
    for op_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", op_id), op_id
        words = re.findall(r"[A-Z]?[a-z0-9]+", op_id)
        assert len(words) == len({w.lower() for w in words}), op_id
    by_route = {
        (m.upper(), p): op["operationId"]
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
    }
    assert by_route[("GET", "/api/consumer/executions/{id}")] == "getExecution"
    assert by_route[("GET", "/api/consumer/executions")] == "listExecutions"
    events = doc["paths"]["/api/consumer/executions/{id}/events"]["get"]["responses"]["200"]
    assert set(events["content"]) == {"text/event-stream"}
    log = doc["paths"]["/api/consumer/executions/{id}/webhook-deliveries"]["get"]
    envelope = doc["components"]["schemas"][
        log["operationId"][0].upper() + log["operationId"][1:] + "Response"
    ]
    assert "meta" not in envelope["properties"]  # not paginated


async def test_docs_page_is_swagger_ui_served_from_here(api: Api) -> None:
    reply = await api.call("GET", "/docs")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert 'id="swagger-ui"' in reply.text
    # Nothing from elsewhere: every script and stylesheet is a path on this server,
    # and the policy lets the browser run only those.
    assets = re.findall(r'(?:src|href)="([^"]+)"', reply.text)
    assert "/docs/static/swagger-ui-bundle.js" in assets and "/web/static/docs.js" in assets
    for asset in assets:
        assert asset.startswith(("/", "#")) and not asset.startswith("//"), asset
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        served = await api.call("GET", asset)
        assert served.status == 200 and len(served.text) > 10_000, asset


async def test_bearer_scheme_lets_swagger_authorize(api: Api) -> None:
    doc = await api.ok_raw("/openapi.json")
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "tsk_" in scheme["description"]
    assert doc["tags"][0]["name"] == "marketplace"


# Where the handlers read query parameters and request headers (routes_files' signed
# links are outside the OpenAPI document; Authorization is the security scheme).
READ_PARAM_RE = re.compile(
    r"(?:request\.query\.get|enum_query\(request,|slug_query\(request,"
    r'|request\.headers\.get|request\.headers\.getall)\(? ?"([A-Za-z_-]+)"'
)
HTTP_DIR = Path(__file__).resolve().parents[2] / "entrypoints" / "http"


async def test_every_query_and_header_parameter_read_is_documented(api: Api) -> None:
    doc = await api.ok_raw("/openapi.json")
    documented = {
        (p["in"], p["name"])
        for ops in doc["paths"].values()
        for op in ops.values()
        for p in op["parameters"]
    }
    read: set[str] = set()
    for path in [HTTP_DIR / "params.py", *HTTP_DIR.glob("routes_*.py")]:
        if path.name != "routes_files.py":
            read |= set(READ_PARAM_RE.findall(path.read_text(encoding="utf-8")))
    assert {"wait", "Prefer", "Idempotency-Key", "limit", "cursor", "status"} <= read
    names = {name for _, name in documented}
    assert read - names == set(), "read by a handler but not in /openapi.json"
    run = doc["paths"]["/api/marketplace/models/{slug}/run"]["post"]["parameters"]
    assert {(p["in"], p["name"]) for p in run} >= {
        ("query", "wait"),
        ("header", "Prefer"),
        ("header", "Idempotency-Key"),
    }
    assert all(p.get("description") for p in run if p["in"] != "path")


@pytest.fixture
def live_server() -> Iterator[str]:
    """The app on a loopback port, served from its own thread and event loop."""
    loop = asyncio.new_event_loop()
    app = create_app(build_container(make_settings()))
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _seed(base: str, auth: dict[str, dict[str, str]]) -> None:
    def post(path: str, who: str, body: Any) -> Any:
        response = requests.post(base + path, json=body, headers=auth[who], timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["data"]

    endpoint = post("/api/admin/endpoints", "admin", endpoint_body())
    base_model = post("/api/admin/base-models", "admin", base_model_body(endpoint["id"]))
    post("/api/developer/auth/register", "developer_x", {})
    post("/api/consumer/auth/register", "consumer_a", {})
    model = post(
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base_model["id"], "title": "Pixel Art"},
    )
    response = requests.patch(
        f"{base}/api/developer/tars-models/{model['id']}",
        json={"status": "PUBLISHED"},
        headers=auth["developer_x"],
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _fuzz(operation: Any, base_url: str, headers: dict[str, str]) -> None:
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=checks)

    check()


def test_generated_requests_never_break_the_contract(live_server: str) -> None:
    auth = {who: {"Authorization": f"Bearer {token}"} for who, token in tokens().items()}
    _seed(live_server, auth)
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        identity = AUTH_IDENTITY.get(operation.definition.raw.get("x-auth", "none"))
        _fuzz(operation, live_server, auth[identity] if identity else {})
        tested += 1
    assert tested == len(ROUTES)
