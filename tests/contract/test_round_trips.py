"""Database round trips of the hot paths on PostgreSQL, counted on the wire.

A proxy (``tests/pg_trips.py``) sits between the engine and the server and counts each
wait for the server, whatever it carries (BEGIN, COMMIT, a ping, a statement). Each path
runs once first, so that statements are prepared and the pool holds its connection, as in
a server under load; then the same path is counted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.memory.clock import ManualClock
from adapters.memory.gpu import FakeGpuProvider
from adapters.sql import engine as sql_engine
from adapters.sql import lane as sql_lane
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.feed import PostgresFeed
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.run_request import RunRequest
from tarsify.services.engine.listener_table import engine_listeners
from tarsify.services.engine.settings import EngineSettings
from tests.contract.conftest import empty_all
from tests.contract.engine_world import SqlStore, SqlWorld
from tests.pg import migrated_postgres
from tests.pg_trips import RoundTripCounter

pytestmark = pytest.mark.postgres

# Targets: run = the PENDING insert, which admits the run itself (committed), the claim
# (committed before the provider call) and the record of the provider's answer; the
# target comes from the process's copy (``RunTargets``), as under load. With the
# service's listeners it is the same for a free model: nothing writes beside the insert,
# and the claim and the record stay one autocommitted UPDATE each (the trigger announces
# them). When the copy is out of date, reading the target adds one.
RUN_TRIPS = 3
LISTENED_RUN_TRIPS = 3
POLL_TRIPS = 3
# A poll that completes the execution: the completion may make a webhook event, but this
# process made the run and knows it asked for no webhook (another process reads that
# once per execution), so the UPDATE is still one autocommitted statement (grouped).
LISTENED_POLL_TRIPS = 3
INPUTS = {"prompt": "a lighthouse"}


@pytest.fixture(scope="module")
def trips_pg_url() -> Iterator[str]:
    """A fresh migrated PostgreSQL database for this module."""
    yield from migrated_postgres()


@pytest.fixture(params=["bare", "listened"])
async def counted(
    request: pytest.FixtureRequest, trips_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SqlWorld, RoundTripCounter]]:
    """The engine's services on SQL through the counting proxy, and the counter; bare, or
    with the listeners the service plugs in (credits, webhooks, the event feed)."""
    # A connection idle longer than this is pinged at checkout; a slow test machine
    # must not add pings that a server under load never pays.
    monkeypatch.setattr(sql_engine, "PING_AFTER_IDLE_S", 3600.0)
    monkeypatch.setattr(sql_lane, "PING_AFTER_IDLE_S", 3600.0)
    cleaner = create_engine(trips_pg_url)
    await empty_all(cleaner)
    await cleaner.dispose()
    counter = RoundTripCounter(trips_pg_url)
    engine = create_engine(await counter.start())
    clock = ManualClock()
    listeners = None
    if request.param == "listened":
        feed = PostgresFeed(trips_pg_url)  # announce only: it never listens here
        listeners = engine_listeners(clock, feed)
    world = SqlWorld(
        clock=clock,
        store=SqlStore(session_factory(engine)),  # type: ignore[arg-type]
        gpu=FakeGpuProvider(),
        settings=EngineSettings(),
        listeners=listeners,
    )
    try:
        yield await world.build(), counter
    finally:
        await engine.dispose()
        await counter.close()


async def _run(world: SqlWorld) -> uuid.UUID:
    result = await world.executions.run(RunRequest(world.alice.id, world.model.slug, INPUTS))
    assert result.view.execution.status is ExecutionStatus.QUEUED
    return result.view.execution.id


async def _complete(world: SqlWorld, execution_id: uuid.UUID) -> None:
    """The job finishes at the provider, and the poll interval has passed."""
    stored = await world.stored(execution_id)
    world.gpu.set_status(stored.provider_job_id, "COMPLETED", output={"text": "done"})
    assert isinstance(world.clock, ManualClock)
    world.clock.advance(world.settings.poll_min_interval_s + 1)


async def _poll(world: SqlWorld, execution_id: uuid.UUID) -> None:
    view = await world.executions.get(world.alice.id, execution_id)
    assert view.execution.status is ExecutionStatus.COMPLETED
    assert view.execution.output_payload == {"text": "done"}


async def test_run_without_wait_takes_at_most_three_round_trips(
    counted: tuple[SqlWorld, RoundTripCounter],
) -> None:
    world, counter = counted
    await _run(world)  # warm-up
    counter.reset()
    execution_id = await _run(world)
    limit = RUN_TRIPS if world.listeners is None else LISTENED_RUN_TRIPS
    assert len(counter.trips) <= limit, counter.describe()
    # Crash safety: the PENDING row is durable before the claim, the claim before the
    # provider was called (the fake saw the job only after the claim's trip).
    stored = await world.stored(execution_id)
    assert stored.submit_attempts == 1
    assert stored.provider_job_id is not None


async def test_a_run_that_reads_its_target_takes_one_more(
    counted: tuple[SqlWorld, RoundTripCounter],
) -> None:
    world, counter = counted
    await _run(world)  # warm-up
    assert isinstance(world.clock, ManualClock)
    world.clock.advance(world.settings.run_target_ttl_s)
    counter.reset()
    await _run(world)
    limit = RUN_TRIPS if world.listeners is None else LISTENED_RUN_TRIPS
    assert len(counter.trips) <= limit + 1, counter.describe()


async def test_status_poll_that_changes_state_takes_at_most_three_round_trips(
    counted: tuple[SqlWorld, RoundTripCounter],
) -> None:
    world, counter = counted
    warm_up = await _run(world)
    await _complete(world, warm_up)
    await _poll(world, warm_up)
    execution_id = await _run(world)
    await _complete(world, execution_id)
    counter.reset()
    await _poll(world, execution_id)
    limit = POLL_TRIPS if world.listeners is None else LISTENED_POLL_TRIPS
    assert len(counter.trips) <= limit, counter.describe()
