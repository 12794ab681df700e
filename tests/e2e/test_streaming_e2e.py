"""Streamed output end to end: PostgreSQL, the fake RunPod API over HTTP in its
generator-handler mode (chunks over a few seconds, consumed on read), and two service
processes (two containers on one database, each with its reconciler).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse

from adapters.providers.simulator.runpod_api import FaultPlan
from adapters.providers.simulator.streams import stream_chunk
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tarsify.domain.models import OutputType

from .conftest import ClientFactory
from .streaming_support import publish_streaming, streaming_runpod, streaming_settings
from .support import Api, tokens

pytestmark = pytest.mark.postgres

API_KEY = "rpa_STREAM" + uuid.uuid4().hex.upper()
ENDPOINT = "llm-stream-e2e-k3v9"
CHUNKS = 16
RUN_S = 2.0
EXPECTED = [stream_chunk(OutputType.TEXT, i) for i in range(CHUNKS)]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "simulate_stream": {"type": "integer", "minimum": 1},
        "simulate_aggregate": {"type": "boolean"},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
# No aggregate from the worker: the stored output is the list of the stored chunks, so
# it shows whether any chunk was lost or stored twice.
INPUTS = {"prompt": "tell me a story", "simulate_stream": CHUNKS, "simulate_aggregate": False}


FAULTS = FaultPlan()


@pytest.fixture
async def fake_runpod() -> AsyncIterator[str]:
    """The fake RunPod API whose endpoint's worker is a generator handler."""
    FAULTS.clear()
    async with streaming_runpod(API_KEY, ENDPOINT, OutputType.TEXT, RUN_S, FAULTS) as url:
        yield url


async def service(url: str, runpod_url: str, aiohttp_client: ClientFactory) -> Api:
    """One service process: its own container, pool, feed and reconciler."""
    settings = streaming_settings(url, runpod_url, API_KEY)
    return Api(await aiohttp_client(create_app(build_container(settings))), tokens())


async def publish(api: Api) -> str:
    """A streaming text base model on the fake's endpoint, published by a developer."""
    base, slug = await publish_streaming(
        api,
        ENDPOINT,
        "Storyteller",
        SCHEMA,
        slug="storyteller",
        category="TEXT",
        outputType="TEXT",
        outputFormat="txt",
    )
    assert base["streaming"] is True
    detail = await api.ok("GET", f"/api/marketplace/models/{slug}", "consumer_a")
    assert detail["streaming"] is True
    return slug


@dataclass
class Event:
    id: int
    name: str
    data: Any


@dataclass
class Seen:
    """What one stream showed."""

    events: list[Event] = field(default_factory=list)

    @property
    def outputs(self) -> list[Any]:
        return [e.data for e in self.events if e.name == "output"]

    @property
    def statuses(self) -> list[str]:
        return [e.data["status"] for e in self.events if e.name == "status"]


async def next_event(response: ClientResponse) -> Event | None:
    """The next event with an id (heartbeats skipped); None at the end of the stream."""
    fields: dict[str, str] = {}
    while True:
        raw = await asyncio.wait_for(response.content.readline(), 15)
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            continue
        if line == "":
            if "event" in fields:
                return Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


def events_path(execution_id: str) -> str:
    return f"/api/consumer/executions/{execution_id}/events"


def headers(api: Api, last_event_id: int | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    if last_event_id is not None:
        sent["Last-Event-ID"] = str(last_event_id)
    return sent


async def read_all(api: Api, execution_id: str, last_event_id: int | None = None) -> Seen:
    seen = Seen()
    path = events_path(execution_id)
    async with api.client.get(path, headers=headers(api, last_event_id)) as response:
        assert response.status == 200
        while (event := await next_event(response)) is not None:
            seen.events.append(event)
    return seen


async def run(api: Api, slug: str) -> str:
    path = f"/api/marketplace/models/{slug}/run"
    started = await api.ok("POST", path, "consumer_a", {"inputs": INPUTS}, 202)
    return str(started["id"])


def assert_ids_increase(events: list[Event]) -> None:
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)), ids


async def test_chunks_reach_the_stream_while_it_runs_in_order_each_once(
    database_url: str, fake_runpod: str, aiohttp_client: ClientFactory
) -> None:
    api = await service(database_url, fake_runpod, aiohttp_client)
    execution_id = await run(api, await publish(api))
    seen = Seen()
    status_at_first_chunk = None
    async with api.client.get(events_path(execution_id), headers=headers(api)) as response:
        while (event := await next_event(response)) is not None:
            seen.events.append(event)
            if event.name == "output" and status_at_first_chunk is None:
                current = await api.ok(
                    "GET", f"/api/consumer/executions/{execution_id}", "consumer_a"
                )
                status_at_first_chunk = current["status"]
    assert status_at_first_chunk == "RUNNING"  # streamed, not delivered at the end
    assert seen.outputs == EXPECTED
    assert seen.statuses[-1] == "COMPLETED"
    assert seen.events[-1].name == "status"
    assert_ids_increase(seen.events)
    final = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
    assert final["output"] == EXPECTED


async def test_last_event_id_resumes_mid_stream_and_after_the_end(
    database_url: str, fake_runpod: str, aiohttp_client: ClientFactory
) -> None:
    api = await service(database_url, fake_runpod, aiohttp_client)
    execution_id = await run(api, await publish(api))
    first = Seen()
    async with api.client.get(events_path(execution_id), headers=headers(api)) as response:
        while len(first.outputs) < 3:
            event = await next_event(response)
            assert event is not None
            first.events.append(event)
    # The connection dropped after the third chunk; the client comes back.
    resumed = await read_all(api, execution_id, first.events[-1].id)
    assert first.outputs + resumed.outputs == EXPECTED
    assert resumed.statuses[-1] == "COMPLETED"
    assert_ids_increase(first.events + resumed.events)

    # After the end: the chunks after the id, then the final status.
    third = [e for e in first.events if e.name == "output"][2]
    after_end = await read_all(api, execution_id, third.id)
    assert after_end.outputs == EXPECTED[3:]
    assert [e.name for e in after_end.events][-1] == "status"
    assert after_end.statuses == ["COMPLETED"]
    # A new stream of the finished execution replays every chunk, then the final status.
    replay = await read_all(api, execution_id)
    assert replay.outputs == EXPECTED and replay.statuses == ["COMPLETED"]
    assert replay.events[-1].id == resumed.events[-1].id
    # Resumed after the last event: nothing more, and the stream ends.
    done = await read_all(api, execution_id, replay.events[-1].id)
    assert done.events == []


async def test_two_processes_never_split_a_jobs_chunks(
    database_url: str, fake_runpod: str, aiohttp_client: ClientFactory
) -> None:
    a = await service(database_url, fake_runpod, aiohttp_client)
    b = await service(database_url, fake_runpod, aiohttp_client)
    slug = await publish(a)
    # Every other read of a stream answers late, after taking its chunks: two readers at
    # once would store them out of order.
    for _ in range(200):
        FAULTS.slow_next("stream", delay_s=0.3)
        FAULTS.slow_next("stream", delay_s=0.0)
    execution_ids = [await run(a, slug) for _ in range(3)]
    # Both processes read every job's stream at once (their reconcilers and a stream
    # each): the chunks, consumed on read, must all be stored once, in order.
    seen = await asyncio.gather(
        *(read_all(api, execution_id) for api in (a, b) for execution_id in execution_ids)
    )
    for stream in seen:
        assert stream.outputs == EXPECTED
        assert stream.statuses[-1] == "COMPLETED"
        assert_ids_increase(stream.events)
    for execution_id in execution_ids:
        final = await b.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
        assert final["output"] == EXPECTED
