"""Validation has a bounded cost: schemas that would explode are refused when saved,
patterns are matched in linear time, and a run's check runs on a thread within a budget
while the service keeps answering."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from adapters.offload import ThreadOffload
from entrypoints.config import Settings
from entrypoints.container import Container

from .conftest import make_settings
from .receivers import wait_until
from .support import Api, World, base_model_body

R = TypeVar("R")


def dag(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    """Definitions where each level names the one below twice (acyclic)."""
    defs: dict[str, Any] = {"L0": leaf}
    for n in range(1, levels + 1):
        below = {"$ref": f"#/$defs/L{n - 1}"}
        defs[f"L{n}"] = {"allOf": [below, dict(below)]}
    return defs


def costly_schema(levels: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"$ref": f"#/$defs/L{levels}"}}},
        "$defs": dag(levels, {"type": "integer", "minimum": 0}),
    }


async def _publish(api: Api, world: World, slug: str, schema: dict[str, Any]) -> str:
    body = base_model_body(world.endpoint_id, slug=slug, inputSchema=schema)
    base = await api.ok("POST", "/api/admin/base-models", "admin", body, 201)
    tars = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": f"Model {slug}"},
        201,
    )
    path = f"/api/developer/tars-models/{tars['id']}"
    await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    return str(tars["slug"])


async def test_a_schema_that_unfolds_exponentially_is_refused_when_saved(
    api: Api, world: World
) -> None:
    body = base_model_body(world.endpoint_id, slug="dag-17", inputSchema=costly_schema(17))
    reply = await api.call("POST", "/api/admin/base-models", "admin", body)
    assert (reply.status, reply.code) == (400, "ERR_2001")
    [problem] = reply.body["error"]["details"]
    assert problem["field"] == "inputSchema"
    assert "unfolds through $ref into more than 10000 subschemas" in problem["message"]
    # Eleven levels unfold into fewer: accepted.
    await _publish(api, world, "dag-11", costly_schema(11))


async def test_patterns_are_matched_by_re2(api: Api, world: World) -> None:
    refused = {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": "^(a)\\1$"}},
    }
    body = base_model_body(world.endpoint_id, slug="backref", inputSchema=refused)
    reply = await api.call("POST", "/api/admin/base-models", "admin", body)
    assert (reply.status, reply.code) == (400, "ERR_2001")
    assert "RE2" in reply.body["error"]["details"][0]["message"]
    nested = {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(b+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    slug = await _publish(api, world, "nested", nested)
    # Backtracking engines take 2^100 steps for these; RE2 answers at once.
    evil = "a" * 100 + "!"
    inputs = {"a": evil, "b" * 100 + "!": 1}
    run = f"/api/marketplace/models/{slug}/run"
    reply = await api.call("POST", run, "consumer_a", {"inputs": inputs})
    assert (reply.status, reply.code) == (422, "ERR_2005")
    fields = {d["field"] for d in reply.body["error"]["details"]}
    assert fields == {"a", "b" * 100 + "!"}
    ok = {"a": "aaa", "bbb": 3}
    assert (await api.ok("POST", run, "consumer_a", {"inputs": ok}, 202))["input"] == ok


class ObservedOffload(ThreadOffload):
    """The service's threads, telling the test when a check has started."""

    def __init__(self) -> None:
        super().__init__(workers=2, limit_s=60)
        self.started = threading.Event()

    async def run(self, work: Callable[[], R]) -> R:
        def observed() -> R:
            self.started.set()
            return work()

        return await super().run(observed)


@pytest.fixture
def settings() -> Settings:
    return make_settings(validation_budget_seconds=1.0, max_active_executions=100)


@pytest.fixture
def observed(container: Container) -> Iterator[ObservedOffload]:
    """Installed before the app is built (the fixture comes first in the test)."""
    offload = ObservedOffload()
    container.offload.override(offload)
    yield offload
    offload.close()


async def test_health_answers_while_a_worst_case_check_runs_and_the_budget_ends_it(
    observed: ObservedOffload, api: Api, world: World
) -> None:
    slug = await _publish(api, world, "costly", costly_schema(11))
    # Each item is checked against ~6,000 subschemas: minutes without a budget.
    body = {"inputs": {"xs": [0] * 5000}}
    path = f"/api/marketplace/models/{slug}/run"
    running = asyncio.create_task(api.call("POST", path, "consumer_a", body))
    await wait_until(observed.started.is_set, "the check to start")
    health = await api.ok("GET", "/health")
    assert health["status"] == "ok"
    assert not running.done()  # answered while the check was still running
    reply = await running
    assert (reply.status, reply.code) == (422, "ERR_2005")
    assert reply.body["error"]["details"] == [
        {"field": "$", "message": "checking these inputs took too long; simplify them"}
    ]
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []
