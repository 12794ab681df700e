"""Run answers: Location on every answer, Prefer: wait as a hint with Preference-Applied."""

from __future__ import annotations

import pytest

from entrypoints.container import Container

from .support import Api, Reply, World

RUN_BODY = {"inputs": {"prompt": "cat"}}


async def _run(api: Api, world: World, query: str = "", **headers: str) -> Reply:
    path = f"/api/marketplace/models/{world.slug}/run{query}"
    return await api.call("POST", path, "consumer_a", RUN_BODY, headers=headers)


def _location_of(reply: Reply) -> str:
    return f"/api/consumer/executions/{reply.data['id']}"


async def test_every_run_answer_says_where_the_execution_is(
    api: Api, world: World, container: Container
) -> None:
    container.simulator_engine().hang_next()
    started = await _run(api, world, **{"Idempotency-Key": "loc-1"})
    replay = await _run(api, world, **{"Idempotency-Key": "loc-1"})
    finished = await _run(api, world, "?wait=5")
    assert (started.status, replay.status, finished.status) == (202, 202, 200)
    for reply in (started, replay, finished):
        assert reply.headers["Location"] == _location_of(reply)
        assert "Preference-Applied" not in reply.headers
    assert replay.headers["Location"] == started.headers["Location"]
    read = await api.call("GET", started.headers["Location"], "consumer_a")
    assert read.data["id"] == started.data["id"]
    refused = await api.call("POST", f"/api/marketplace/models/{world.slug}/run", "consumer_a", {})
    assert refused.status == 400 and "Location" not in refused.headers


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [
        ("wait=5", "wait=5"),
        ("respond-async, wait=10", "wait=10"),
        ('return=minimal; foo="a,b", WAIT = "3"', "wait=3"),
        ("wait=600", "wait=60"),
    ],
)
async def test_prefer_wait_waits_and_says_so(
    api: Api, world: World, prefer: str, applied: str
) -> None:
    reply = await _run(api, world, Prefer=prefer)
    assert reply.status == 200, reply.text
    assert reply.data["status"] == "COMPLETED"
    assert reply.headers["Preference-Applied"] == applied
    assert reply.headers["Location"] == _location_of(reply)


@pytest.mark.parametrize("prefer", ["wait=soon", "wait=-1", "wait=1.5", "wait", "respond-async"])
async def test_unusable_preferences_are_ignored(
    api: Api, world: World, container: Container, prefer: str
) -> None:
    container.simulator_engine().hang_next()
    reply = await _run(api, world, Prefer=prefer)
    assert reply.status == 202 and reply.data["status"] != "COMPLETED"
    assert "Preference-Applied" not in reply.headers


async def test_a_wait_in_the_query_wins_over_the_header(api: Api, world: World) -> None:
    no_wait = await _run(api, world, "?wait=0", Prefer="wait=5")
    assert no_wait.status == 202 and "Preference-Applied" not in no_wait.headers
    bad = await _run(api, world, "?wait=61", Prefer="wait=5")
    assert (bad.status, bad.code) == (400, "ERR_2002")


async def test_a_replay_with_prefer_waits_for_the_first_execution(
    api: Api, world: World, container: Container
) -> None:
    container.simulator_engine().hang_next()
    first = await _run(api, world, **{"Idempotency-Key": "pref-1"})
    assert first.status == 202
    again = await _run(api, world, Prefer="wait=0", **{"Idempotency-Key": "pref-1"})
    assert again.status == 202 and again.data["id"] == first.data["id"]
    assert again.headers["Preference-Applied"] == "wait=0"
    assert again.headers["Location"] == first.headers["Location"]
