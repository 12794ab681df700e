"""API keys over HTTP: create, list, use, revoke; never shown again, never logged."""

from __future__ import annotations

import logging
import re

import pytest

from .support import Api, World, random_id

KEYS = "/api/consumer/api-keys"
KEY_RE = re.compile(r"^tsk_[A-Za-z0-9_-]{43}$")


async def _create(api: Api, who: str = "consumer_a", name: str = "ci") -> dict[str, str]:
    data: dict[str, str] = await api.ok("POST", KEYS, who, {"name": name}, 201)
    return data


async def test_create_shows_the_key_once_and_lists_without_it(api: Api, world: World) -> None:
    created = await _create(api, name="  build server ")
    assert set(created) == {"id", "name", "key", "prefix", "createdAt", "lastUsedAt"}
    assert KEY_RE.fullmatch(created["key"])
    assert created["prefix"] == created["key"][:12] and created["name"] == "build server"
    assert created["lastUsedAt"] is None
    listed = await api.call("GET", KEYS, "consumer_a")
    assert listed.data == [{k: v for k, v in created.items() if k != "key"}]
    assert created["key"] not in listed.text
    assert (await api.call("GET", KEYS, "consumer_b")).data == []


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}])
async def test_a_name_is_required(api: Api, world: World, body: dict[str, str]) -> None:
    reply = await api.call("POST", KEYS, "consumer_a", body)
    assert (reply.status, reply.code) == (400, "ERR_2001")
    assert (await api.call("GET", KEYS, "consumer_a")).data == []


async def test_a_key_works_wherever_the_consumer_token_does(api: Api, world: World) -> None:
    api.tokens["key_a"] = (await _create(api))["key"]
    me = await api.ok("GET", "/api/consumer/auth/me", "key_a")
    assert me["uid"] == "cons-a"
    run = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "key_a",
        {"inputs": {"prompt": "p"}},
        202,
    )
    # The token sees what the key made, and the other way round.
    assert (await api.ok("GET", f"/api/consumer/executions/{run['id']}", "consumer_a"))["id"]
    history = await api.ok("GET", "/api/consumer/executions", "key_a")
    assert [e["id"] for e in history] == [run["id"]]
    listed = await api.ok("GET", KEYS, "key_a")
    assert listed[0]["lastUsedAt"] is not None


@pytest.mark.parametrize(
    "path", ["/api/developer/auth/me", "/api/developer/tars-models", "/api/admin/endpoints"]
)
async def test_a_key_is_not_a_developer_credential(api: Api, world: World, path: str) -> None:
    api.tokens["key_a"] = (await _create(api))["key"]
    reply = await api.call("GET", path, "key_a")
    assert (reply.status, reply.code) == (401, "ERR_1002")


async def test_revoked_keys_stop_at_once(api: Api, world: World) -> None:
    created = await _create(api)
    api.tokens["key_a"] = created["key"]
    await api.ok("GET", "/api/consumer/auth/me", "key_a")
    revoked = await api.ok("DELETE", f"{KEYS}/{created['id']}", "consumer_a")
    assert revoked["id"] == created["id"] and revoked["revokedAt"] is not None
    reply = await api.call("GET", "/api/consumer/auth/me", "key_a")
    assert (reply.status, reply.code) == (401, "ERR_1002")
    assert (await api.ok("GET", KEYS, "consumer_a")) == []
    again = await api.call("DELETE", f"{KEYS}/{created['id']}", "consumer_a")
    assert (again.status, again.code) == (404, "ERR_3001")


async def test_unknown_and_others_keys_are_not_found(api: Api, world: World) -> None:
    created = await _create(api)
    for who, key_id in (("consumer_b", created["id"]), ("consumer_a", random_id())):
        reply = await api.call("DELETE", f"{KEYS}/{key_id}", who)
        assert (reply.status, reply.code) == (404, "ERR_3001")
    bad = await api.call("DELETE", f"{KEYS}/not-a-uuid", "consumer_a")
    assert (bad.status, bad.code) == (400, "ERR_2003")
    api.tokens["key_a"] = created["key"]
    await api.ok("GET", "/api/consumer/auth/me", "key_a")  # still working


@pytest.mark.parametrize("token", ["tsk_", "tsk_" + "A" * 43, "tsk_" + "A" * 5000])
async def test_made_up_keys_are_invalid_tokens(api: Api, world: World, token: str) -> None:
    reply = await api.call(
        "GET", "/api/consumer/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (reply.status, reply.code) == (401, "ERR_1002")


async def test_keys_never_reach_the_logs(
    api: Api, world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await _create(api)
    api.tokens["key_a"] = created["key"]
    await api.ok("GET", "/api/consumer/auth/me", "key_a")
    await api.ok("DELETE", f"{KEYS}/{created['id']}", "key_a")  # a key may revoke itself
    await api.call("GET", "/api/consumer/auth/me", "key_a")
    await api.call("DELETE", f"{KEYS}/{created['key']}", "consumer_a")  # a key pasted in a URL
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "http.request" in logged and "tsk_[redacted]" in logged  # the access log was seen
    assert created["key"] not in logged
    assert created["key"].removeprefix("tsk_")[8:24] not in logged


async def test_a_consumer_holds_at_most_twenty_working_keys(api: Api, world: World) -> None:
    keys = [await _create(api, name=f"key {n}") for n in range(20)]
    refused = await api.call("POST", KEYS, "consumer_a", {"name": "one more"})
    assert (refused.status, refused.code) == (409, "ERR_3004")
    assert refused.body["error"]["details"] == {"limit": 20}
    listed = await api.ok("GET", f"{KEYS}?limit=100", "consumer_a")
    assert len(listed) == 20
    await _create(api, "consumer_b")  # another consumer's limit is their own
    await api.ok("DELETE", f"{KEYS}/{keys[0]['id']}", "consumer_a")
    await _create(api, name="rotated")  # a revoked key frees its place
