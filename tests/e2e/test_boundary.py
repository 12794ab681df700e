"""The input boundary over HTTP (memory store): unstorable values are 4xx with their field."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import String

from adapters.sql.tables import (
    base_models,
    consumers,
    developers,
    ledger_entries,
    runpod_endpoints,
    tars_models,
)
from entrypoints.container import Container, resolve
from entrypoints.http.boundary import CLAIM_LIMITS
from entrypoints.http.schemas_auth import RegisterRequest
from entrypoints.http.schemas_catalog import (
    BaseModelCreate,
    BaseModelUpdate,
    EndpointCreate,
    EndpointUpdate,
)
from entrypoints.http.schemas_credits import CreditGrant
from entrypoints.http.schemas_studio import TarsModelCreate, TarsModelUpdate
from tarsify.domain.schema import UNUSABLE_SCHEMA

from .boundary_cases import Case, boundary_tokens, cases
from .support import Api, World, base_model_body


async def check_case(api: Api, case: Case) -> str | None:
    """Send ``case``; what is wrong with its answer (None when it is the expected one)."""
    reply = await api.call(case.method, case.path, case.who, data=case.body, headers=_json(case))
    if not isinstance(reply.body, dict) or reply.body.get("success") is not False:
        return f"{case.name}: {reply.status} {reply.text[:200]}"
    if (reply.status, reply.code) != (case.status, case.code):
        return f"{case.name}: {reply.status} {reply.text[:200]}"
    fields = [d.get("field") for d in reply.body["error"].get("details") or []]
    if case.field is not None and case.field not in fields:
        return f"{case.name}: {fields}"
    return None


async def check_cases(api: Api, world: World) -> None:
    """Every case answered as expected (all reported together)."""
    api.tokens.update(boundary_tokens())
    wrong = [problem for case in cases(world) if (problem := await check_case(api, case))]
    assert wrong == []


def _json(case: Case) -> dict[str, str]:
    return {"Content-Type": "application/json"} if case.body is not None else {}


async def test_every_unstorable_value_is_refused_with_its_field(api: Api, world: World) -> None:
    await check_cases(api, world)
    # Nothing of it was stored: still the seeded models only, and no execution.
    mine = await api.ok("GET", "/api/developer/tars-models", "developer_x")
    assert sorted(m["title"] for m in mine) == ["Draft One", "Pixel Art"]
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []
    assert (await api.call("GET", "/api/consumer/auth/me", "consumer_new")).code == "ERR_1004"


async def test_bearer_tokens_outside_token_characters_are_invalid(api: Api) -> None:
    for token in ("tok\u00e9n", "a\tb", "ab<script>", "\u2028x"):
        reply = await api.call(
            "GET", "/api/consumer/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert (reply.status, reply.code) == (401, "ERR_1002"), token


async def test_recursive_schema_through_the_input_is_accepted_and_runs(
    api: Api, world: World
) -> None:
    schema = {
        "type": "object",
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "tree": {"$ref": "#/$defs/node"},
        },
        "required": ["prompt"],
    }
    body = base_model_body(world.endpoint_id, slug="tree-model", inputSchema=schema)
    base = await api.ok("POST", "/api/admin/base-models", "admin", body, 201)
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Trees"},
        201,
    )
    await api.ok(
        "PATCH", f"/api/developer/tars-models/{model['id']}", "developer_x", {"status": "PUBLISHED"}
    )
    run = f"/api/marketplace/models/{model['slug']}/run"
    bad = await api.call(
        "POST", run, "consumer_a", {"inputs": {"prompt": "p", "tree": {"next": {"next": 5}}}}
    )
    assert (bad.status, bad.code) == (422, "ERR_2005")
    assert bad.body["error"]["details"][0]["field"] == "tree.next.next"
    await api.ok("POST", run, "consumer_a", {"inputs": {"prompt": "p", "tree": {"next": {}}}}, 202)


async def test_twenty_concurrent_creates_of_one_title_all_get_a_slug(
    api: Api, world: World
) -> None:
    body = {"baseModelId": world.base_model_id, "title": "Same Title"}
    replies = await asyncio.gather(
        *(api.call("POST", "/api/developer/tars-models", "developer_y", body) for _ in range(20))
    )
    assert [r.status for r in replies] == [201] * 20
    slugs = {r.data["slug"] for r in replies}
    assert len(slugs) == 20 and {"same-title", "same-title-2", "same-title-20"} <= slugs


def _cap(model: type[Any], name: str) -> int | None:
    for meta in model.model_fields[name].metadata:
        if getattr(meta, "max_length", None) is not None:
            return int(meta.max_length)
    return None


@pytest.mark.parametrize(
    ("model", "field", "column"),
    [
        (RegisterRequest, "name", consumers.c.name),
        (EndpointCreate, "runpod_endpoint_id", runpod_endpoints.c.runpod_endpoint_id),
        (EndpointCreate, "name", runpod_endpoints.c.name),
        (EndpointCreate, "gpu_type", runpod_endpoints.c.gpu_type),
        (EndpointUpdate, "name", runpod_endpoints.c.name),
        (BaseModelCreate, "slug", base_models.c.slug),
        (BaseModelCreate, "name", base_models.c.name),
        (BaseModelCreate, "output_format", base_models.c.output_format),
        (BaseModelUpdate, "name", base_models.c.name),
        (TarsModelCreate, "title", tars_models.c.title),
        (TarsModelCreate, "slug", tars_models.c.slug),
        (TarsModelUpdate, "title", tars_models.c.title),
        (CreditGrant, "reason", ledger_entries.c.reason),
    ],
)
def test_request_length_caps_fit_their_columns(model: type[Any], field: str, column: Any) -> None:
    cap, length = _cap(model, field), column.type.length
    assert isinstance(column.type, String) and cap is not None and cap <= length


@pytest.mark.parametrize("accounts", [developers, consumers])
def test_token_claim_caps_are_the_account_columns(accounts: Any) -> None:
    assert {
        "sub": accounts.c.uid.type.length,
        "email": accounts.c.email.type.length,
        "name": accounts.c.name.type.length,
    } == CLAIM_LIMITS


async def test_a_schema_stored_before_the_checks_shows_and_refuses_runs_cleanly(
    api: Api, world: World, container: Container
) -> None:
    """A base model whose schema loops on itself (stored before ``$ref`` was checked)."""
    uow_factory = await resolve(container.uow_factory)
    async with uow_factory() as uow:
        base = await uow.base_models.get(uuid.UUID(world.base_model_id))
        assert base is not None
        base.input_schema = {**base.input_schema, "$ref": "#"}
        await uow.base_models.update(base)
        await uow.commit()
    detail = await api.ok("GET", f"/api/marketplace/models/{world.slug}")
    assert detail["inputSchema"]["$ref"] == "#"
    reply = await api.call(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "a"}},
    )
    assert (reply.status, reply.code) == (422, "ERR_2005")
    assert reply.body["error"]["details"] == [UNUSABLE_SCHEMA]
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []
