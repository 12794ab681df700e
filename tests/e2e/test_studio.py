"""The developer's studio over HTTP, on the memory store and on PostgreSQL: free test runs
of drafts with the merged inputs, and each model's figures from paid runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from entrypoints.config import Settings
from entrypoints.container import Container
from tests.pg import create_test_database, drop_test_database, require_postgres

from .conftest import make_settings
from .support import Api, World, random_id

TARS = "/api/developer/tars-models"
GRANT = "/api/admin/consumers/cons-a/credits"


@pytest.fixture(params=["memory", "postgres"])
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Every test on both stores: a fresh migrated PostgreSQL database each time."""
    if request.param == "memory":
        yield make_settings()
        return
    from adapters.sql.migrate import upgrade

    require_postgres()
    url = asyncio.run(create_test_database())
    try:
        asyncio.run(upgrade(url))
        yield make_settings(database_url=url)
    finally:
        asyncio.run(drop_test_database(url))


async def _configure_draft(api: Api, world: World) -> None:
    config = {
        "defaultInputs": {"width": 640},
        "lockedInputs": {"steps": 7},
        "hiddenFields": ["seed"],
        "promptPrefix": "pre ",
        "promptSuffix": " post",
    }
    body = {"configOverrides": config, "pricePerRun": 9}
    await api.ok("PATCH", f"{TARS}/{world.draft_id}", "developer_x", body)


async def test_a_draft_test_runs_free_with_the_merged_inputs(api: Api, world: World) -> None:
    await _configure_draft(api, world)
    path = f"{TARS}/{world.draft_id}/test-run?wait=5"
    inputs = {"prompt": "a fox", "seed": 3, "steps": 99}
    reply = await api.call("POST", path, "developer_x", {"inputs": inputs})
    assert reply.status == 200, reply.text
    run = reply.data
    assert run["status"] == "COMPLETED", run["error"]
    assert run["cost"] == 0
    assert run["input"] == {"prompt": "a fox"}  # what may be shown of what was sent
    # Merged as a consumer's run would be: default, locked, hidden removed, wrapped.
    assert run["mergedInput"] == {"prompt": "pre a fox post", "width": 640, "steps": 7}
    assert reply.headers["Location"] == f"{TARS}/{world.draft_id}/test-runs/{run['id']}"

    again = await api.ok("GET", f"{TARS}/{world.draft_id}/test-runs/{run['id']}", "developer_x")
    assert (again["id"], again["status"], again["cost"]) == (run["id"], "COMPLETED", 0)
    assert again["mergedInput"] == run["mergedInput"]
    listed = await api.ok("GET", f"{TARS}/{world.draft_id}/test-runs", "developer_x")
    assert [r["id"] for r in listed] == [run["id"]]

    # Nothing held or earned, in no consumer's history, in no figure.
    assert await api.ok("GET", "/api/developer/earnings", "developer_x") == {"balance": 0}
    for consumer in ("consumer_a", "consumer_b"):
        assert await api.ok("GET", "/api/consumer/executions", consumer) == []
        gone = await api.call("GET", f"/api/consumer/executions/{run['id']}", consumer)
        assert (gone.status, gone.code) == (404, "ERR_5505")
    figures = await api.ok("GET", f"{TARS}/{world.draft_id}/stats", "developer_x")
    assert (figures["runs"], figures["earnings"], figures["successRate"]) == (0, 0, None)
    overall = await api.ok("GET", "/api/developer/stats", "developer_x")
    assert overall["runs"] == 0
    assert {m["id"]: m["runs"] for m in overall["models"]} == {
        world.draft_id: 0,
        world.model_id: 0,
    }


async def test_test_runs_check_inputs_and_status(api: Api, world: World) -> None:
    bad = await api.call(
        "POST", f"{TARS}/{world.draft_id}/test-run", "developer_x", {"inputs": {"width": 1}}
    )
    assert (bad.status, bad.code) == (422, "ERR_2005")
    published = await api.call(
        "POST", f"{TARS}/{world.model_id}/test-run", "developer_x", {"inputs": {"prompt": "x"}}
    )
    assert published.status in (200, 202), published.text
    assert published.data["cost"] == 0
    await api.ok("DELETE", f"{TARS}/{world.draft_id}", "developer_x")
    archived = await api.call(
        "POST", f"{TARS}/{world.draft_id}/test-run", "developer_x", {"inputs": {"prompt": "x"}}
    )
    assert (archived.status, archived.code) == (400, "ERR_5501")


async def test_only_the_owner_reaches_test_runs_and_figures(api: Api, world: World) -> None:
    run = await api.ok(
        "POST",
        f"{TARS}/{world.draft_id}/test-run",
        "developer_x",
        {"inputs": {"prompt": "x"}},
        202,
    )
    paths = [
        ("POST", f"{TARS}/{world.draft_id}/test-run", {"inputs": {"prompt": "x"}}),
        ("GET", f"{TARS}/{world.draft_id}/test-runs", None),
        ("GET", f"{TARS}/{world.draft_id}/test-runs/{run['id']}", None),
        ("GET", f"{TARS}/{world.draft_id}/stats", None),
    ]
    for method, path, body in paths:
        other = await api.call(method, path, "developer_y", body)
        assert (other.status, other.code) == (404, "ERR_5500"), path
        consumer = await api.call(method, path, "consumer_a", body)
        assert consumer.status in (401, 403), path
        nobody = await api.call(method, path, None, body)
        assert (nobody.status, nobody.code) == (401, "ERR_1001"), path
    consumer = await api.call("GET", "/api/developer/stats", "consumer_a")
    assert consumer.status in (401, 403)
    unknown = await api.call(
        "GET", f"{TARS}/{world.draft_id}/test-runs/{random_id()}", "developer_x"
    )
    assert (unknown.status, unknown.code) == (404, "ERR_5505")
    # A test run of one model is not found under another.
    elsewhere = await api.call(
        "GET", f"{TARS}/{world.model_id}/test-runs/{run['id']}", "developer_x"
    )
    assert (elsewhere.status, elsewhere.code) == (404, "ERR_5505")


@pytest.mark.parametrize("days", ["0", "366", "-1", "abc", "1.5", ""])
async def test_a_bad_days_is_400(api: Api, world: World, days: str) -> None:
    for path in (f"{TARS}/{world.model_id}/stats", "/api/developer/stats"):
        reply = await api.call("GET", f"{path}?days={days}", "developer_x")
        assert (reply.status, reply.code) == (400, "ERR_2002"), (path, days)


async def _paid_run(api: Api, world: World) -> dict[str, Any]:
    path = f"/api/marketplace/models/{world.slug}/run?wait=5"
    reply = await api.call("POST", path, "consumer_a", {"inputs": {"prompt": "a fox"}})
    assert reply.status == 200, reply.text
    data: dict[str, Any] = reply.data
    return data


async def test_two_completed_and_one_failed_paid_run(
    api: Api, world: World, container: Container
) -> None:
    await api.ok("PATCH", f"{TARS}/{world.model_id}", "developer_x", {"pricePerRun": 10})
    await api.ok("POST", GRANT, "admin", {"amount": 100, "reason": "r"}, 201)
    await _paid_run(api, world)
    await _paid_run(api, world)
    container.simulator_engine().fail_next()
    failed = await _paid_run(api, world)
    assert failed["status"] == "FAILED"
    await api.ok(
        "POST",
        f"{TARS}/{world.model_id}/test-run?wait=5",
        "developer_x",
        {"inputs": {"prompt": "not counted"}},
    )

    figures = await api.ok("GET", f"{TARS}/{world.model_id}/stats", "developer_x")
    assert (figures["runs"], figures["completed"], figures["failed"]) == (3, 2, 1)
    assert (figures["cancelled"], figures["timedOut"]) == (0, 0)
    assert figures["successRate"] == pytest.approx(2 / 3)
    assert figures["earnings"] == 16  # twice 10 less 20 %
    for times in (figures["queueMs"], figures["runMs"]):
        assert set(times) == {"p50", "p90"}
        assert times["p50"] is not None and times["p50"] >= 0
        assert times["p90"] >= times["p50"]
    assert len(figures["days"]) == 30
    today = datetime.now(UTC).date().isoformat()
    assert figures["days"][-1] == {
        "date": today,
        "runs": 3,
        "completed": 2,
        "failed": 1,
        "earnings": 16,
    }
    assert all(d["runs"] == 0 for d in figures["days"][:-1])

    week = await api.ok("GET", f"{TARS}/{world.model_id}/stats?days=7", "developer_x")
    assert len(week["days"]) == 7 and week["runs"] == 3
    overall = await api.ok("GET", "/api/developer/stats?days=1", "developer_x")
    assert (overall["runs"], overall["completed"], overall["earnings"]) == (3, 2, 16)
    assert [d["date"] for d in overall["days"]] == [today]
    lines = {m["id"]: m for m in overall["models"]}
    line = lines[world.model_id]
    assert (line["slug"], line["runs"], line["earnings"]) == (world.slug, 3, 16)
    assert line["successRate"] == pytest.approx(2 / 3)
    assert lines[world.draft_id]["runs"] == 0
    other = await api.ok("GET", "/api/developer/stats", "developer_y")
    assert (other["runs"], other["models"]) == (0, [])
