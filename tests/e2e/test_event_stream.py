"""The event stream of an execution, in one process (memory store, in-process feed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from entrypoints.config import Settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.server import make_runner

from .conftest import ClientFactory, make_settings
from .receivers import wait_until
from .sse import next_event, statuses_until_end
from .support import Api, World, seed, tokens

ORDER = ["PENDING", "QUEUED", "RUNNING", "COMPLETED"]


@pytest.fixture
def settings() -> Settings:
    """Jobs queue 0.2 s and run 0.3 s; the reconciler moves them; heartbeats only after a
    quiet minute (a client leaving is noticed without writing anything)."""
    return make_settings(
        simulator_queue_seconds=0.2,
        simulator_run_seconds=0.3,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        events_heartbeat_seconds=60,
    )


def stream_path(execution_id: str) -> str:
    return f"/api/consumer/executions/{execution_id}/events"


def auth(api: Api, who: str = "consumer_a") -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[who]}"}


async def start(api: Api, world: World) -> str:
    run = f"/api/marketplace/models/{world.slug}/run"
    started = await api.ok("POST", run, "consumer_a", {"inputs": {"prompt": "x"}}, 202)
    return str(started["id"])


async def test_every_change_in_order_then_the_stream_ends(api: Api, world: World) -> None:
    execution_id = await start(api, world)
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Request-Id"]
        first = await next_event(response)
        assert first is not None and first.name == "status"
        statuses = [first.data["status"], *await statuses_until_end(response)]
    assert statuses[-1] == "COMPLETED"
    assert statuses == sorted(set(statuses), key=ORDER.index)  # in order, never repeated
    assert "RUNNING" in statuses
    current = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
    assert set(first.data) == set(current)


async def test_a_finished_execution_streams_once(api: Api, world: World) -> None:
    execution_id = await start(api, world)
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        await statuses_until_end(response)
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        assert await statuses_until_end(response) == ["COMPLETED"]


async def test_heartbeats_while_nothing_happens(aiohttp_client: ClientFactory) -> None:
    container = build_container(make_settings(events_heartbeat_seconds=0.2))
    api = Api(await aiohttp_client(create_app(container)), tokens())
    world = await seed(api)
    container.simulator_engine().hang_next()
    execution_id = await start(api, world)
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        await next_event(response)
        beat = await next_event(response)
        while beat is not None and beat.name == "status":  # QUEUED -> RUNNING first
            beat = await next_event(response)
        assert beat is not None and beat.name is None and beat.data == "heartbeat"


class ServedLikeProduction(TestServer):
    """A test server on the runner ``tarsify serve`` uses: aiohttp does not cancel the
    handler of a client that left (test servers do), so the stream must notice itself."""

    async def _make_runner(self, handler_cancellation: bool = False, **kwargs: Any) -> Any:
        return make_runner(self.app, **kwargs)


async def test_a_client_that_leaves_leaves_nothing_running() -> None:
    container = build_container(make_settings())
    client = TestClient(ServedLikeProduction(create_app(container)))
    await client.start_server()
    try:
        api = Api(client, tokens())
        world = await seed(api)
        container.simulator_engine().hang_next()
        execution_id = await start(api, world)
        feed = container.execution_feed()
        await asyncio.sleep(0.1)  # let the run's own tasks settle
        before = set(asyncio.all_tasks())
        response = await client.get(stream_path(execution_id), headers=auth(api))
        assert (await next_event(response)) is not None
        assert feed.watcher_count == 1
        response.close()  # the client goes away mid-stream
        await wait_until(lambda: feed.watcher_count == 0, "the watch to end")
        await wait_until(lambda: set(asyncio.all_tasks()) <= before, "the stream's task to end")
    finally:
        await client.close()


async def test_another_consumers_execution_is_not_found(api: Api, world: World) -> None:
    execution_id = await start(api, world)
    reply = await api.call("GET", stream_path(execution_id), "consumer_b")
    assert (reply.status, reply.code) == (404, "ERR_5505")
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_a_consumer_keeps_a_bounded_number_of_streams_open(
    aiohttp_client: ClientFactory,
) -> None:
    container = build_container(make_settings(max_streams_per_consumer=2))
    api = Api(await aiohttp_client(create_app(container)), tokens())
    world = await seed(api)
    container.simulator_engine().hang_next()
    execution_id = await start(api, world)
    path = stream_path(execution_id)
    first = await api.client.get(path, headers=auth(api))
    second = await api.client.get(path, headers=auth(api))
    try:
        assert (first.status, second.status) == (200, 200)
        async with api.client.get(path, headers=auth(api)) as refused:
            body = await refused.json()
            assert refused.status == 429 and body["error"]["code"] == "ERR_4291"
            assert refused.headers["Retry-After"] == "5"
            assert body["error"]["details"]["limit"] == 2
        # Another consumer's streams are counted apart (theirs is a 404: not their run).
        async with api.client.get(path, headers=auth(api, "consumer_b")) as other:
            assert other.status == 404
        first.close()  # one ends: its slot is free again
        await wait_until(lambda: _opens(api, path), "a slot to be free")
    finally:
        first.close()
        second.close()


async def _opens(api: Api, path: str) -> bool:
    async with api.client.get(path, headers=auth(api)) as response:
        return response.status == 200


async def test_progress_is_an_event_and_on_the_execution(aiohttp_client: ClientFactory) -> None:
    # The simulated image worker reports {"percent": ...} while it runs.
    settings = make_settings(
        simulator_queue_seconds=0.05,
        simulator_run_seconds=1.0,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        events_heartbeat_seconds=60,
    )
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    world = await seed(api)
    execution_id = await start(api, world)
    events = []
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        while (event := await next_event(response)) is not None:
            if event.name == "progress":
                shown = await api.ok(
                    "GET", f"/api/consumer/executions/{execution_id}", "consumer_a"
                )
                assert shown["progress"] is not None
            events.append(event)
    progress = [e.data for e in events if e.name == "progress"]
    assert progress and all(0 <= p["percent"] <= 100 for p in progress)
    assert [p["percent"] for p in progress] == sorted({p["percent"] for p in progress})
    names = [e.name for e in events]
    assert names.index("progress") > names.index("status") and names[-1] == "status"
    assert events[-1].data["status"] == "COMPLETED"


async def test_every_event_has_an_increasing_id(api: Api, world: World) -> None:
    execution_id = await start(api, world)
    async with api.client.get(stream_path(execution_id), headers=auth(api)) as response:
        text = (await response.read()).decode()
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    blocks = [b for b in text.split("\n\n") if "event: " in b]
    assert len(ids) == len(blocks) >= 2
    assert ids == sorted(set(ids))
    # Resumed after the last one: nothing more, and the stream ends at once.
    headers = {**auth(api), "Last-Event-ID": str(ids[-1])}
    async with api.client.get(stream_path(execution_id), headers=headers) as response:
        assert await statuses_until_end(response) == []
    # Resumed after an earlier one: the final status.
    headers = {**auth(api), "Last-Event-ID": str(ids[0])}
    async with api.client.get(stream_path(execution_id), headers=headers) as response:
        assert await statuses_until_end(response) == ["COMPLETED"]
