"""Two services on one PostgreSQL database, as two processes would be.

Each container has its own engine, connection pool, feed (its own LISTEN connection)
and delivery worker; they share only the database (and, like real deployments share
RunPod, one GPU provider).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from sqlalchemy import text

from adapters.memory.gpu import FakeGpuProvider
from adapters.sql.engine import create_engine
from adapters.sql.feed import PostgresFeed
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import create_app, start_background, stop_background
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import JobReport, JobRequest
from tests.contract.conftest import empty_all

from .conftest import ClientFactory, make_settings
from .receivers import Receiver, wait_until
from .sse import next_event
from .support import Api, seed, tokens

pytestmark = pytest.mark.postgres
RUNS = 50


@pytest.fixture
async def db(pg_url: str) -> str:
    engine = create_engine(pg_url)
    await empty_all(engine)
    await engine.dispose()
    return pg_url


def settings_for(url: str, files: Path, **extra: Any) -> Any:
    # Small pools: other test runs share this PostgreSQL server and its connection limit.
    return make_settings(
        database_url=url,
        db_pool_size=4,
        blob_store="filesystem",
        blob_filesystem_root=str(files),
        webhook_allow_private=True,
        max_active_executions=100,  # 50 runs at once from one consumer
        **extra,
    )


class GatedProvider(FakeGpuProvider):
    """The fake provider, whose submits wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def submit(self, request: JobRequest) -> JobReport:
        await self.gate.wait()
        return await super().submit(request)


@pytest.fixture
async def worker_b(db: str, tmp_path: Path) -> AsyncIterator[Container]:
    """The other process: no HTTP, its own everything."""
    container = build_container(settings_for(db, tmp_path, status_poll_min_interval=0.0))
    yield container
    await resolve(container.shutdown_resources)


async def test_stream_shows_each_change_made_by_another_process_in_order(
    db: str, tmp_path: Path, aiohttp_client: ClientFactory, worker_b: Container
) -> None:
    provider = GatedProvider()
    # A serves the stream and never asks the provider itself: every change comes from B.
    a = build_container(
        settings_for(db, tmp_path, status_poll_min_interval=3600, events_heartbeat_seconds=60)
    )
    for container in (a, worker_b):
        container.gpu_provider.override(providers.Object(provider))
    api = Api(await aiohttp_client(create_app(a)), tokens())
    world = await seed(api)
    feed = a.execution_feed()
    assert isinstance(feed, PostgresFeed)
    await wait_until(feed.listening.is_set, "A to LISTEN")
    await resolve(worker_b.init_resources)
    executions_b = await resolve(worker_b.execution_service)
    me = await api.ok("GET", "/api/consumer/auth/me", "consumer_a")
    consumer_id = uuid.UUID(me["id"])

    run = asyncio.create_task(
        executions_b.run(RunRequest(consumer_id, world.slug, {"prompt": "x"}))
    )
    listed: list[dict[str, Any]] = []

    async def stored() -> bool:
        listed[:] = await api.ok("GET", "/api/consumer/executions", "consumer_a")
        return bool(listed)

    await wait_until(stored, "B to store the execution")
    execution_id = listed[0]["id"]
    headers = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    seen: list[str] = []
    async with api.client.get(
        f"/api/consumer/executions/{execution_id}/events", headers=headers
    ) as response:

        async def expect(status: str) -> None:
            # Every stored change is an event; one that keeps the status (the submit's
            # claim, say) may come or not, depending on when the stream first read.
            while True:
                event = await asyncio.wait_for(next_event(response), 10)
                assert event is not None and event.name == "status", event
                if not seen or event.data["status"] != seen[-1]:
                    break
            seen.append(event.data["status"])
            assert seen[-1] == status, seen

        await expect("PENDING")
        provider.gate.set()  # B's submit goes through: QUEUED, stored by B
        job_id = (await run).view.execution.provider_job_id
        assert job_id is not None
        await expect("QUEUED")
        provider.set_status(job_id, "IN_PROGRESS")
        await executions_b.get(consumer_id, uuid.UUID(execution_id))
        await expect("RUNNING")
        provider.set_status(job_id, "COMPLETED", output={"text": "done"})
        await executions_b.get(consumer_id, uuid.UUID(execution_id))
        await expect("COMPLETED")
        assert await asyncio.wait_for(next_event(response), 10) is None  # the end
    assert seen == ["PENDING", "QUEUED", "RUNNING", "COMPLETED"]


async def test_concurrent_runs_across_two_processes_are_each_delivered_once(
    db: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    receiver = Receiver()
    hook = await receiver.start()
    fast = {"webhook_delivery_enabled": True, "webhook_delivery_interval": 0.02}
    a = build_container(settings_for(db, tmp_path, **fast))
    api = Api(await aiohttp_client(create_app(a)), tokens())
    world = await seed(api)
    b = build_container(settings_for(db, tmp_path, **fast))
    await resolve(b.init_resources)
    background_b = await start_background(b)  # B only delivers (its reconciler is off)
    try:
        body = {"inputs": {"prompt": "x"}, "webhook": hook}
        path = f"/api/marketplace/models/{world.slug}/run?wait=10"
        done = await asyncio.gather(
            *(api.ok("POST", path, "consumer_a", body) for _ in range(RUNS))
        )
        assert {d["status"] for d in done} == {"COMPLETED"}
        await wait_until(lambda: len(receiver.by_webhook_id()) == RUNS, "every delivery", limit=60)
    finally:
        await stop_background(background_b)
        await resolve(b.shutdown_resources)
        await api.client.close()  # A's delivery stops too
        await receiver.close()
    assert all(len(attempts) == 1 for attempts in receiver.by_webhook_id().values())
    assert len(receiver.received) == RUNS
    engine = create_engine(db)
    try:
        async with engine.connect() as connection:
            events = (
                await connection.execute(text("SELECT status, attempts FROM webhook_events"))
            ).all()
            deliveries = (
                await connection.execute(text("SELECT count(*) FROM webhook_deliveries"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert sorted(set(events)) == [("DELIVERED", 1)] and len(events) == RUNS
    assert deliveries == RUNS
