"""Every failure uses the error envelope; request ids; CORS."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from dependency_injector import providers

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app

from .conftest import ClientFactory, make_settings
from .support import Api, endpoint_body


def _assert_error(reply: Any, status: int, code: str) -> None:
    assert reply.status == status, reply.text
    assert reply.body["success"] is False
    assert reply.body["error"]["code"] == code
    assert isinstance(reply.body["error"]["message"], str)
    assert "Traceback" not in reply.text
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_unknown_route_is_404_err_3001(api: Api) -> None:
    _assert_error(await api.call("GET", "/api/nope"), 404, "ERR_3001")
    _assert_error(await api.call("GET", "/nope"), 404, "ERR_3001")


async def test_wrong_method_is_405_err_4050_with_allow(api: Api) -> None:
    reply = await api.call("PUT", "/api/marketplace/models")
    _assert_error(reply, 405, "ERR_4050")
    assert reply.headers["Allow"] == "GET"
    assert reply.body["error"]["details"] == {"method": "PUT", "allowed": ["GET"]}


async def test_malformed_json_is_err_2001(api: Api) -> None:
    reply = await api.call(
        "POST",
        "/api/admin/endpoints",
        "admin",
        data=b'{"name": ',
        headers={"Content-Type": "application/json"},
    )
    _assert_error(reply, 400, "ERR_2001")
    assert reply.body["error"]["message"] == "Malformed JSON body"


async def test_non_object_and_unknown_fields_are_err_2001(api: Api) -> None:
    reply = await api.call("POST", "/api/admin/endpoints", "admin", [1, 2])
    _assert_error(reply, 400, "ERR_2001")
    reply = await api.call("POST", "/api/admin/endpoints", "admin", endpoint_body(color="red"))
    _assert_error(reply, 400, "ERR_2001")
    assert reply.body["error"]["details"] == [
        {"field": "color", "message": "Extra inputs are not permitted"}
    ]
    reply = await api.call("POST", "/api/admin/endpoints", "admin", endpoint_body(isActive="yes"))
    assert reply.body["error"]["details"][0]["field"] == "isActive"


async def test_body_over_limit_is_413_err_4130(api: Api) -> None:
    big = {"runpodEndpointId": "x", "name": "n" * (70 * 1024), "gpuType": "A"}
    reply = await api.call("POST", "/api/admin/endpoints", "admin", big)
    _assert_error(reply, 413, "ERR_4130")


async def test_unexpected_exception_is_500_err_5001_without_details(
    container: Container, aiohttp_client: ClientFactory
) -> None:
    class Exploding:
        async def list(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret internal detail")

    container.marketplace_service.override(providers.Object(Exploding()))
    client: TestClient = await aiohttp_client(create_app(container))
    response = await client.get("/api/marketplace/models")
    body = await response.json()
    assert response.status == 500
    assert body == {"success": False, "error": {"code": "ERR_5001", "message": "Internal error"}}
    assert "X-Request-Id" in response.headers


async def test_request_id_is_echoed_or_generated(api: Api) -> None:
    reply = await api.call("GET", "/health", headers={"X-Request-Id": "abc-123.X_y"})
    assert reply.headers["X-Request-Id"] == "abc-123.X_y"
    generated = await api.call("GET", "/health")
    assert len(generated.headers["X-Request-Id"]) == 32
    invalid = await api.call("GET", "/health", headers={"X-Request-Id": "bad id!"})
    assert invalid.headers["X-Request-Id"] not in ("bad id!", "")
    too_long = await api.call("GET", "/health", headers={"X-Request-Id": "a" * 129})
    assert too_long.headers["X-Request-Id"] != "a" * 129
    error = await api.call("GET", "/nope", headers={"X-Request-Id": "req-404"})
    assert error.headers["X-Request-Id"] == "req-404"


async def test_cors_disabled_by_default(api: Api) -> None:
    reply = await api.call("GET", "/health", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in reply.headers


async def test_cors_allows_configured_origins_and_answers_preflight(
    aiohttp_client: ClientFactory,
) -> None:
    settings = make_settings(cors_origins="https://app.example, https://studio.example")
    client = await aiohttp_client(create_app(build_container(settings)))
    preflight = await client.options(
        "/api/marketplace/models/x/run",
        headers={
            "Origin": "https://studio.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://studio.example"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    simple = await client.get("/health", headers={"Origin": "https://app.example"})
    assert simple.headers["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = simple.headers["Access-Control-Expose-Headers"]
    assert exposed == (
        "X-Request-Id, Location, Preference-Applied, Retry-After, RateLimit-Policy, RateLimit"
    )
    error = await client.get("/nope", headers={"Origin": "https://app.example"})
    assert error.status == 404
    assert error.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
