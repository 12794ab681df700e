"""Consumer routes: own executions only."""

from __future__ import annotations

from adapters.auth.jwt import mint_token
from entrypoints.container import Container
from tarsify.ports.identity import Audience

from .support import JWT_SECRET, Api, World, random_id

EXECUTIONS = "/api/consumer/executions"


async def _run(api: Api, world: World, who: str = "consumer_a", wait: int = 0) -> str:
    query = f"?wait={wait}" if wait else ""
    data = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run{query}",
        who,
        {"inputs": {"prompt": "cat"}},
        200 if wait else 202,
    )
    return str(data["id"])


async def test_get_polls_until_completed(api: Api, world: World) -> None:
    execution_id = await _run(api, world)
    data = await api.ok("GET", f"{EXECUTIONS}/{execution_id}", "consumer_a")
    assert data["status"] == "COMPLETED"
    assert set(data) == {
        "id",
        "status",
        "model",
        "input",
        "output",
        "pendingReason",
        "error",
        "createdAt",
        "startedAt",
        "completedAt",
        "executionTimeMs",
        "queueTimeMs",
        "cost",
        "progress",
        "logs",
        "queuePosition",
    }


async def test_list_filters_and_paginates(api: Api, world: World, container: Container) -> None:
    done = await _run(api, world, wait=5)
    container.simulator_engine().hang_next()
    running = await _run(api, world)
    await api.ok("GET", f"{EXECUTIONS}/{running}", "consumer_a")
    await _run(api, world, who="consumer_b")
    everything = await api.ok("GET", EXECUTIONS, "consumer_a")
    assert [e["id"] for e in everything] == [running, done]
    completed = await api.ok("GET", f"{EXECUTIONS}?status=COMPLETED", "consumer_a")
    assert [e["id"] for e in completed] == [done]
    page = await api.call("GET", f"{EXECUTIONS}?limit=1", "consumer_a")
    assert [e["id"] for e in page.data] == [running]
    cursor = page.body["meta"]["nextCursor"]
    rest = await api.ok("GET", f"{EXECUTIONS}?limit=1&cursor={cursor}", "consumer_a")
    assert [e["id"] for e in rest] == [done]
    by_model = await api.ok("GET", f"{EXECUTIONS}?model={world.slug}", "consumer_a")
    assert len(by_model) == 2
    assert await api.ok("GET", f"{EXECUTIONS}?model=other-model", "consumer_a") == []
    for query in ("status=DONE", "model=Not%20A%20Slug", "limit=500"):
        bad = await api.call("GET", f"{EXECUTIONS}?{query}", "consumer_a")
        assert (bad.status, bad.code) == (400, "ERR_2002"), query


async def test_cancel(api: Api, world: World, container: Container) -> None:
    container.simulator_engine().hang_next()
    execution_id = await _run(api, world)
    cancelled = await api.ok("POST", f"{EXECUTIONS}/{execution_id}/cancel", "consumer_a")
    assert cancelled["status"] == "CANCELLED"
    again = await api.call("POST", f"{EXECUTIONS}/{execution_id}/cancel", "consumer_a")
    assert (again.status, again.code) == (409, "ERR_5507")
    finished = await _run(api, world, wait=5)
    late = await api.call("POST", f"{EXECUTIONS}/{finished}/cancel", "consumer_a")
    assert (late.status, late.code) == (409, "ERR_5507")


async def test_other_consumers_executions_are_not_found(api: Api, world: World) -> None:
    execution_id = await _run(api, world)
    for method, path in (
        ("GET", f"{EXECUTIONS}/{execution_id}"),
        ("POST", f"{EXECUTIONS}/{execution_id}/cancel"),
    ):
        reply = await api.call(method, path, "consumer_b")
        assert (reply.status, reply.code) == (404, "ERR_5505"), path
    assert await api.ok("GET", EXECUTIONS, "consumer_b") == []
    missing = await api.call("GET", f"{EXECUTIONS}/{random_id()}", "consumer_a")
    assert (missing.status, missing.code) == (404, "ERR_5505")


async def test_non_uuid_ids_are_400_err_2003(api: Api, world: World) -> None:
    for method, path in (
        ("GET", f"{EXECUTIONS}/abc"),
        ("POST", f"{EXECUTIONS}/abc/cancel"),
        ("GET", f"{EXECUTIONS}/{random_id()[:-1]}"),
        ("GET", f"{EXECUTIONS}/{random_id()}%0A"),
        ("GET", f"{EXECUTIONS}/{random_id().replace('-', '')}"),
        ("GET", f"{EXECUTIONS}/urn:uuid:{random_id()}"),
    ):
        reply = await api.call(method, path, "consumer_a")
        assert (reply.status, reply.code) == (400, "ERR_2003"), path


async def test_unregistered_consumer_is_404_err_1004(api: Api, world: World) -> None:
    api.tokens["consumer_c"] = mint_token(JWT_SECRET, Audience.CONSUMERS, "cons-c", "c@x.io")
    for method, path in (
        ("GET", EXECUTIONS),
        ("GET", f"{EXECUTIONS}/{random_id()}"),
        ("POST", f"/api/marketplace/models/{world.slug}/run"),
    ):
        reply = await api.call(
            method, path, "consumer_c", {"inputs": {}} if method == "POST" else None
        )
        assert (reply.status, reply.code) == (404, "ERR_1004"), path
        # It says how to become registered, on this audience's route.
        assert reply.body["error"] == {
            "code": "ERR_1004",
            "message": "User not registered: register first with POST /api/consumer/auth/register",
            "details": {"register": "POST /api/consumer/auth/register"},
        }, path


async def test_input_is_what_the_consumer_sent_never_the_worker_payload(
    api: Api, world: World
) -> None:
    # A hidden field's value is never the consumer's to set: it is dropped, not stored.
    sent = {"prompt": "cat", "seed": 7}
    data = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run?wait=5",
        "consumer_a",
        {"inputs": sent},
        200,
    )
    shown = await api.ok("GET", f"{EXECUTIONS}/{data['id']}", "consumer_a")
    assert shown["input"] == {"prompt": "cat"}
    assert "SECRET" not in str(shown)
    # Still the same after the developer archives the model.
    await api.ok("DELETE", f"/api/developer/tars-models/{world.model_id}", "developer_x")
    again = await api.ok("GET", f"{EXECUTIONS}/{data['id']}", "consumer_a")
    assert again["input"] == {"prompt": "cat"} and again["output"] is not None
