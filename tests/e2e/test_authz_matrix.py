"""Every identity against every route, with the exact status each must get."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import FormData

from entrypoints.container import Container
from entrypoints.http.app import ROUTES

from .support import Api, World, base_model_body, endpoint_body

IDENTITIES = (
    None,
    "consumer_a",
    "consumer_b",
    "developer_x",
    "developer_y",
    "admin",
    "wrong_audience",
    "consumer_a_key",
    "revoked_key",
)
# consumer_a_key is an API key of consumer A: wherever A's token works, it works.
UNAUTHENTICATED = {None: 401, "wrong_audience": 401, "revoked_key": 401}


def public(status: int = 200) -> dict[str | None, int]:
    """Anyone, whatever token they send."""
    return dict.fromkeys(IDENTITIES, status)


GRANT = {"amount": 5, "reason": "matrix"}


def admin(status: int) -> dict[str | None, int]:
    """Admin routes: developer tokens of non-admins are 403, consumer tokens 401."""
    return {
        **UNAUTHENTICATED,
        "consumer_a": 401,
        "consumer_b": 401,
        "consumer_a_key": 401,
        "developer_x": 403,
        "developer_y": 403,
        "admin": status,
    }


def developer(owner: int, other: int, admin_status: int = 404) -> dict[str | None, int]:
    """Developer routes: X owns the resources, the admin is not a registered developer."""
    return {
        **UNAUTHENTICATED,
        "consumer_a": 401,
        "consumer_b": 401,
        "consumer_a_key": 401,
        "developer_x": owner,
        "developer_y": other,
        "admin": admin_status,
    }


def consumer(owner: int, other: int) -> dict[str | None, int]:
    """Consumer routes: A owns the execution."""
    return {
        **UNAUTHENTICATED,
        "consumer_a": owner,
        "consumer_b": other,
        "consumer_a_key": owner,
        "developer_x": 401,
        "developer_y": 401,
        "admin": 401,
    }


async def _api_keys(api: Api) -> str:
    """Give consumer A a working and a revoked key; returns the id of a key to revoke."""
    keys = "/api/consumer/api-keys"
    working = await api.ok("POST", keys, "consumer_a", {"name": "matrix"}, 201)
    revoked = await api.ok("POST", keys, "consumer_a", {"name": "revoked"}, 201)
    await api.ok("DELETE", f"{keys}/{revoked['id']}", "consumer_a")
    api.tokens |= {"consumer_a_key": working["key"], "revoked_key": revoked["key"]}
    to_revoke = await api.ok("POST", keys, "consumer_a", {"name": "to revoke"}, 201)
    return str(to_revoke["id"])


async def _cases(api: Api, world: World, container: Container) -> list[tuple[Any, ...]]:
    key_id = await _api_keys(api)
    spare_endpoint = await api.ok(
        "POST", "/api/admin/endpoints", "admin", endpoint_body("spare-endpoint"), 201
    )
    spare_base = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        base_model_body(world.endpoint_id, slug="spare"),
        201,
    )
    container.simulator_engine().hang_next()
    execution = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "x"}},
        202,
    )
    run_body = {"inputs": {"prompt": "x"}}
    form = FormData()
    form.add_field("file", b"matrix", filename="m.txt", content_type="text/plain")
    auth = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    async with api.client.post("/api/consumer/files", data=form, headers=auth) as answer:
        assert answer.status == 201
        file_id = (await answer.json())["data"]["id"]
    e, b, d = world.endpoint_id, world.base_model_id, world.draft_id
    tars = f"/api/developer/tars-models/{world.model_id}"
    test_run = await api.ok("POST", f"{tars}/test-run", "developer_x", run_body, 202)
    x = execution["id"]
    callbacks = container.callback_urls()
    assert callbacks is not None
    hook = f"/webhooks/runpod/{x}/{callbacks.token(uuid.UUID(x))}"
    return [
        # The URL token is the credential: any (or no) bearer token is irrelevant.
        ("POST", hook, {"id": "job-1"}, public()),
        ("GET", "/health", None, public()),
        ("GET", "/health/ready", None, public()),
        ("POST", "/api/admin/endpoints", endpoint_body("matrix-endpoint"), admin(201)),
        ("GET", "/api/admin/endpoints", None, admin(200)),
        ("PATCH", f"/api/admin/endpoints/{e}", {"name": "Renamed"}, admin(200)),
        ("DELETE", f"/api/admin/endpoints/{spare_endpoint['id']}", None, admin(200)),
        ("POST", "/api/admin/base-models", base_model_body(e, slug="matrix"), admin(201)),
        ("GET", "/api/admin/base-models", None, admin(200)),
        ("PATCH", f"/api/admin/base-models/{b}", {"description": "d"}, admin(200)),
        ("DELETE", f"/api/admin/base-models/{spare_base['id']}", None, admin(200)),
        ("GET", "/api/developer/base-models", None, developer(200, 200)),
        (
            "POST",
            "/api/developer/tars-models",
            {"baseModelId": b, "title": "Matrix"},
            developer(201, 201),
        ),
        ("GET", "/api/developer/tars-models", None, developer(200, 200)),
        ("GET", f"/api/developer/tars-models/{d}", None, developer(200, 404)),
        ("PATCH", f"/api/developer/tars-models/{d}", {"title": "T2"}, developer(200, 404)),
        ("DELETE", f"/api/developer/tars-models/{d}", None, developer(200, 404)),
        ("POST", f"{tars}/test-run", run_body, developer(202, 404)),
        ("GET", f"{tars}/test-runs", None, developer(200, 404)),
        ("GET", f"{tars}/test-runs/{test_run['id']}", None, developer(200, 404)),
        ("GET", f"{tars}/stats", None, developer(200, 404)),
        ("GET", "/api/developer/stats", None, developer(200, 200)),
        ("GET", "/api/marketplace/models", None, public()),
        ("GET", f"/api/marketplace/models/{world.slug}", None, public()),
        ("POST", f"/api/marketplace/models/{world.slug}/run", run_body, consumer(202, 202)),
        ("GET", "/api/consumer/executions", None, consumer(200, 200)),
        ("GET", f"/api/consumer/executions/{x}", None, consumer(200, 404)),
        # A cancels it first: the key, acting as A, finds it already cancelled.
        (
            "POST",
            f"/api/consumer/executions/{x}/cancel",
            None,
            consumer(200, 404) | {"consumer_a_key": 409},
        ),
        # Cancelled by now: its stream shows the final state and ends.
        ("GET", f"/api/consumer/executions/{x}/events", None, consumer(200, 404)),
        ("GET", f"/api/consumer/executions/{x}/webhook-deliveries", None, consumer(200, 404)),
        ("GET", "/api/consumer/webhooks/secret", None, consumer(200, 200)),
        ("POST", "/api/consumer/webhooks/secret/rotate", None, consumer(200, 200)),
        ("POST", "/api/consumer/api-keys", {"name": "k"}, consumer(201, 201)),
        ("GET", "/api/consumer/api-keys", None, consumer(200, 200)),
        # A revokes it first; after that it is gone for everybody.
        (
            "DELETE",
            f"/api/consumer/api-keys/{key_id}",
            None,
            consumer(200, 404) | {"consumer_a_key": 404},
        ),
        # Uploads are multipart: a JSON body is refused once the caller is known.
        ("POST", "/api/consumer/files", {"file": "x"}, consumer(400, 400)),
        ("GET", "/api/consumer/files", None, consumer(200, 200)),
        # The memory store takes no direct uploads.
        (
            "POST",
            "/api/consumer/files/uploads",
            {"name": "a.wav", "contentType": "audio/wav", "size": 10},
            consumer(400, 400),
        ),
        # A deletes it first; after that it is gone for everybody.
        (
            "DELETE",
            f"/api/consumer/files/{file_id}",
            None,
            consumer(200, 404) | {"consumer_a_key": 404},
        ),
        ("POST", "/api/admin/consumers/cons-a/credits", GRANT, admin(201)),
        ("GET", "/api/consumer/credits", None, consumer(200, 200)),
        ("GET", "/api/consumer/credits/ledger", None, consumer(200, 200)),
        ("GET", "/api/developer/earnings", None, developer(200, 200)),
        ("GET", "/api/developer/earnings/ledger", None, developer(200, 200)),
        ("GET", "/api/developer/auth/me", None, developer(200, 200)),
        ("GET", "/api/consumer/auth/me", None, consumer(200, 200)),
        # Registration last: the admin registering as a developer changes later answers.
        ("POST", "/api/developer/auth/register", {}, developer(409, 409, admin_status=201)),
        ("POST", "/api/consumer/auth/register", {}, consumer(409, 409)),
    ]


def _template(path: str, world: World) -> str:
    parts = path.split("/")
    if path.startswith("/webhooks/"):
        parts[-1] = "{token}"
    if path.startswith("/api/admin/consumers/"):
        parts[4] = "{uid}"
    if len(parts) > 6 and parts[5] == "test-runs":
        parts[6] = "{executionId}"
    return "/".join(
        "{slug}" if p == world.slug else "{id}" if len(p) == 36 and p.count("-") == 4 else p
        for p in parts
    )


async def test_every_identity_on_every_route(api: Api, world: World, container: Container) -> None:
    cases = await _cases(api, world, container)
    covered = {(m, _template(p, world)) for m, p, _, _ in cases}
    assert covered == {(r.method, r.path) for r in ROUTES}
    mismatches = []
    for method, path, body, expected in cases:
        for who in IDENTITIES:
            reply = await api.call(method, path, who, body)
            want = expected[who]
            if reply.status != want:
                mismatches.append((method, path, who, want, reply.status, reply.text[:120]))
            elif want in (401, 403):
                code = {401: "ERR_1002", 403: "ERR_1003"}[want] if who else "ERR_1001"
                if reply.code != code:
                    mismatches.append((method, path, who, code, reply.code))
            elif want == 404 and who == "admin" and "/developer/" in path:
                if reply.code != "ERR_1004":
                    mismatches.append((method, path, who, "ERR_1004", reply.code))
    assert mismatches == []
