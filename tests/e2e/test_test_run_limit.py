"""A developer has at most MAX_ACTIVE_EXECUTIONS unfinished test runs, across their
models, on the memory store and on PostgreSQL; consumers' runs count apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from entrypoints.config import Settings
from tests.pg import create_test_database, drop_test_database, require_postgres

from .conftest import make_settings
from .support import Api, World

TARS = "/api/developer/tars-models"
SLOW = {"max_active_executions": 1, "simulator_queue_seconds": 30.0}


@pytest.fixture(params=["memory", "postgres"])
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    if request.param == "memory":
        yield make_settings(**SLOW)
        return
    from adapters.sql.migrate import upgrade

    require_postgres()
    url = asyncio.run(create_test_database())
    try:
        asyncio.run(upgrade(url))
        yield make_settings(database_url=url, **SLOW)
    finally:
        asyncio.run(drop_test_database(url))


async def test_one_unfinished_test_run_too_many_is_429_and_nothing_is_stored(
    api: Api, world: World
) -> None:
    body = {"inputs": {"prompt": "a fox"}}
    first = await api.call("POST", f"{TARS}/{world.draft_id}/test-run", "developer_x", body)
    assert first.status == 202 and first.data["status"] == "QUEUED", first.text
    for model_id in (world.draft_id, world.model_id):  # any model of the same developer
        again = await api.call("POST", f"{TARS}/{model_id}/test-run", "developer_x", body)
        assert (again.status, again.code) == (429, "ERR_4290"), again.text
        assert int(again.headers["Retry-After"]) >= 1
    listed = await api.ok("GET", f"{TARS}/{world.draft_id}/test-runs", "developer_x")
    others = await api.ok("GET", f"{TARS}/{world.model_id}/test-runs", "developer_x")
    assert [run["id"] for run in listed] == [first.data["id"]] and others == []
    # A consumer's limit is their own: the developer's test runs do not count in it.
    world_model = await api.ok("GET", f"{TARS}/{world.model_id}", "developer_x")
    path = f"/api/marketplace/models/{world_model['slug']}/run"
    paid = await api.call("POST", path, "consumer_a", body)
    assert paid.status == 202, paid.text
