"""A streaming model on fal, end to end on PostgreSQL: the service opens fal's ``fal.run``
stream on the fake fal over HTTP and holds it in the process that sent the job. Chunks
reach the consumer's event stream before the run completes, in order, each once; the
stored output is the app's final result; another service process leaves the job to its
holder; and when the holder is gone, its job fails JOB_LOST and costs nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from dependency_injector import providers

from adapters.providers.simulator.fal_streams import STREAMS_KEY
from entrypoints.container import build_container
from entrypoints.container.engine import make_engine_settings
from entrypoints.http.app import create_app
from tarsify.domain.models import OutputType

from .conftest import ClientFactory
from .sse import next_event
from .support import Api, tokens
from .test_fal_e2e import (
    GRANT,
    Fakes,
    poll,
    publish,
    run,
    settings_for,
    started_fakes,
)

pytestmark = pytest.mark.postgres

LLM = "fal-ai/any-llm"
STREAMING = {"streaming": True, "outputType": "TEXT", "category": "TEXT"}
LEASE_S = 1.0  # the stream lease, short here: a dead holder's job is lost after it


@pytest.fixture
async def llm_fakes() -> AsyncIterator[Fakes]:
    async with started_fakes(queue_s=0.1, run_s=1.5, fal_models={LLM: OutputType.TEXT}) as f:
        yield f


async def service(
    fakes: Fakes, database_url: str, aiohttp_client: ClientFactory, **overrides: Any
) -> tuple[Api, TestClient]:
    """One service process (its own container, so its own fal holder) on the database."""
    settings = settings_for(
        fakes, database_url, status_poll_min_interval=0.05, reconciler_interval=0.05, **overrides
    )
    container = build_container(settings)
    engine = dataclasses.replace(make_engine_settings(settings), stream_lease_s=LEASE_S)
    container.engine_settings.override(providers.Object(engine))
    client = await aiohttp_client(create_app(container))
    return Api(client, tokens()), client


async def test_chunks_stream_from_fal_run_before_the_end_in_order_each_once(
    llm_fakes: Fakes, database_url: str, aiohttp_client: ClientFactory
) -> None:
    api, _ = await service(llm_fakes, database_url, aiohttp_client, reconciler_enabled=False)
    slug = await publish(api, "fal", LLM, "story-llm", price=2, **STREAMING)
    await api.ok("POST", GRANT, "admin", {"amount": 10, "reason": "welcome"}, 201)
    started = await run(api, slug, {"prompt": "a story"})
    seen: list[tuple[str, Any]] = []
    async with api.client.get(
        f"/api/consumer/executions/{started['id']}/events",
        headers={"Authorization": f"Bearer {api.tokens['consumer_a']}"},
    ) as events:
        while (event := await next_event(events)) is not None:
            if event.name is not None:
                seen.append((event.name, event.data))
    names = [name for name, _ in seen]
    outputs = [data for name, data in seen if name == "output"]
    assert outputs, names
    assert names.index("output") < len(names) - 1 and names[-1] == "status"
    assert seen[-1][1]["status"] == "COMPLETED"
    # Each event the app sent but the last, in order, once; the last is the output.
    [served] = llm_fakes.fal.app[STREAMS_KEY].served
    assert served.finished and not served.disconnected
    assert outputs == served.events[:-1]
    assert "".join(chunk["delta"] for chunk in outputs).strip() == served.events[-1]["output"]
    done = await poll(api, started["id"])
    assert done["output"] == served.events[-1] and done["cost"] == 2
    # One call to fal: the stream, nothing on its queue.
    assert llm_fakes.fal_statuses("stream") == [200]
    assert llm_fakes.fal_statuses("submit") == llm_fakes.fal_statuses("status") == []


async def test_another_process_leaves_the_job_to_its_holder_until_the_holder_is_gone(
    llm_fakes: Fakes, database_url: str, aiohttp_client: ClientFactory
) -> None:
    holder, holder_client = await service(
        llm_fakes, database_url, aiohttp_client, reconciler_enabled=False
    )
    slug = await publish(holder, "fal", LLM, "story-llm-2", price=3, **STREAMING)
    await holder.ok("POST", GRANT, "admin", {"amount": 10, "reason": "welcome"}, 201)
    other, _ = await service(llm_fakes, database_url, aiohttp_client, reconciler_enabled=True)
    started = await run(holder, slug, {"prompt": "a story"})
    # The other process (its reconciler polling every 50 ms) lets the holder read it.
    done = await poll(other, started["id"])
    assert done["status"] == "COMPLETED" and done["cost"] == 3
    # A second run; its holder goes away mid-stream (the connection closes with it).
    second = await run(holder, slug, {"prompt": "another story"})
    await poll(other, second["id"], until=("RUNNING",))
    await holder_client.close()
    lost = await poll(other, second["id"])
    assert lost["status"] == "FAILED" and lost["error"]["code"] == "JOB_LOST"
    assert lost["cost"] == 0
    credits = await other.ok("GET", "/api/consumer/credits", "consumer_a")
    assert credits == {"balance": 7, "held": 0}
    [_, cut] = llm_fakes.fal.app[STREAMS_KEY].served
    assert cut.disconnected and not cut.finished
