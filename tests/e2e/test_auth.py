"""Authentication: tokens, audiences, registration, admins."""

from __future__ import annotations

import pytest

from .support import Api


@pytest.mark.parametrize("audience", ["developer", "consumer"])
async def test_register_then_me(api: Api, audience: str) -> None:
    who = f"{audience}_x" if audience == "developer" else f"{audience}_a"
    me = f"/api/{audience}/auth/me"
    missing = await api.call("GET", me, who)
    assert (missing.status, missing.code) == (404, "ERR_1004")
    created = await api.ok("POST", f"/api/{audience}/auth/register", who, {"name": "Zed"}, 201)
    assert created["name"] == "Zed" and created["email"].endswith("@example.com")
    assert await api.ok("GET", me, who) == created
    again = await api.call("POST", f"/api/{audience}/auth/register", who, {})
    assert (again.status, again.code) == (409, "ERR_1005")


async def test_register_takes_the_name_from_the_token_when_absent(api: Api) -> None:
    created = await api.ok("POST", "/api/consumer/auth/register", "consumer_a", None, 201)
    assert created["name"] == "Alice" and created["uid"] == "cons-a"
    assert set(created) == {
        "id",
        "uid",
        "email",
        "name",
        "creditsBalance",
        "createdAt",
        "updatedAt",
    }
    assert created["createdAt"].endswith("+00:00")


async def test_register_body_is_validated(api: Api) -> None:
    reply = await api.call("POST", "/api/developer/auth/register", "developer_x", {"uid": "z"})
    assert (reply.status, reply.code) == (400, "ERR_2001")
    reply = await api.call("POST", "/api/developer/auth/register", "developer_x", {"name": ""})
    assert reply.body["error"]["details"][0]["field"] == "name"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic abc", "bearer", "Token abc", "Bearer a b"],
)
async def test_missing_or_malformed_header_is_401_err_1001(api: Api, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    reply = await api.call("GET", "/api/consumer/auth/me", headers=headers)
    assert (reply.status, reply.code) == (401, "ERR_1001")


@pytest.mark.parametrize("who", ["expired", "bad_signature", "wrong_audience"])
async def test_invalid_tokens_are_401_err_1002(api: Api, who: str) -> None:
    reply = await api.call("GET", "/api/consumer/auth/me", who)
    assert (reply.status, reply.code) == (401, "ERR_1002")


async def test_garbage_token_is_401_err_1002(api: Api) -> None:
    reply = await api.call(
        "GET", "/api/consumer/auth/me", headers={"Authorization": "Bearer not.a.jwt"}
    )
    assert (reply.status, reply.code) == (401, "ERR_1002")


async def test_audiences_never_cross(api: Api) -> None:
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", {}, 201)
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    for who, path in (
        ("consumer_a", "/api/developer/auth/me"),
        ("developer_x", "/api/consumer/auth/me"),
        ("consumer_a", "/api/admin/endpoints"),
        ("admin", "/api/consumer/executions"),
    ):
        reply = await api.call("GET", path, who)
        assert (reply.status, reply.code) == (401, "ERR_1002"), (who, path)


async def test_admin_needs_an_admin_uid_not_registration(api: Api) -> None:
    await api.ok("GET", "/api/admin/endpoints", "admin")
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    reply = await api.call("GET", "/api/admin/endpoints", "developer_x")
    assert (reply.status, reply.code) == (403, "ERR_1003")
