"""Group commit (adapters/sql/grouped.py) on a real PostgreSQL: concurrent whole-change
compare-and-sets and admitting inserts go out as fewer statements than rows, and each
row keeps the outcome it would have had alone."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import execution_writes
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.grouped import grouped_updates
from adapters.sql.lane import Lane
from adapters.sql.mapping import to_values
from adapters.sql.tables import executions
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.admission import Admission
from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus, TarsModelStatus
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import Catalog, add_executions, consumer, seed_catalog

pytestmark = pytest.mark.postgres


@pytest.fixture
def uows(postgres_engine: AsyncEngine) -> UnitOfWorkFactory:
    return partial(SqlUnitOfWork, session_factory(postgres_engine))


def lane_of(engine: AsyncEngine) -> Lane:
    lane = engine.sync_engine.pool.lane  # type: ignore[attr-defined]
    assert isinstance(lane, Lane)
    return lane


async def stored(uows: UnitOfWorkFactory, *items: Execution) -> list[Execution]:
    found = []
    async with uows() as uow:
        for item in items:
            execution = await uow.executions.get(item.id)
            assert execution is not None
            found.append(execution)
    return found


async def single_update(uows: UnitOfWorkFactory, execution: Execution) -> bool:
    async with uows() as uow:
        written = await uow.executions.update(execution, then=())
        await uow.commit()
    return written


def running(execution: Execution, job: str) -> Execution:
    changed = dataclasses.replace(execution, status=ExecutionStatus.RUNNING)
    changed.provider_job_id = job
    changed.output_payload = {"step": job, "text": "é\u2028"}
    return changed


async def seeded(uows: UnitOfWorkFactory, n: int) -> tuple[Catalog, list[Execution]]:
    cat = await seed_catalog(uows)
    items = [cat.execution() for _ in range(n)]
    await add_executions(uows, *items)
    return cat, items


async def test_concurrent_whole_changes_share_statements_and_each_is_written(
    uows: UnitOfWorkFactory, postgres_engine: AsyncEngine
) -> None:
    _, items = await seeded(uows, 30)
    before = await stored(uows, *items)
    changes = [running(e, f"job-{i}") for i, e in enumerate(before)]
    results = await asyncio.gather(*(single_update(uows, c) for c in changes))
    assert results == [True] * 30
    assert [c.version for c in changes] == [e.version + 1 for e in before]
    after = await stored(uows, *items)
    assert [(e.status, e.provider_job_id, e.version) for e in after] == [
        (ExecutionStatus.RUNNING, f"job-{i}", before[i].version + 1) for i in range(30)
    ]
    assert after[0].output_payload == {"step": "job-0", "text": "é\u2028"}
    grouped = execution_writes.GROUPED[lane_of(postgres_engine)]["update"]
    assert grouped.statements < 30  # the ones that waited went out together


async def test_a_stale_row_in_a_group_is_refused_alone(uows: UnitOfWorkFactory) -> None:
    _, items = await seeded(uows, 6)
    before = await stored(uows, *items)
    changes = [running(e, f"job-{i}") for i, e in enumerate(before)]
    changes[3].version -= 1  # another writer moved it on since this state was read
    results = await asyncio.gather(*(single_update(uows, c) for c in changes))
    assert results == [True, True, True, False, True, True]
    after = await stored(uows, *items)
    assert after[3] == before[3]  # untouched
    assert [e.provider_job_id for e in after] == ["job-0", "job-1", "job-2", None, "job-4", "job-5"]


async def test_two_writers_of_one_row_at_once_one_wins(uows: UnitOfWorkFactory) -> None:
    _, items = await seeded(uows, 1)
    (state,) = await stored(uows, *items)
    first, second = running(state, "first"), running(state, "second")
    results = await asyncio.gather(single_update(uows, first), single_update(uows, second))
    assert sorted(results) == [False, True]
    (after,) = await stored(uows, *items)
    assert after.version == state.version + 1
    assert after.provider_job_id == ("first" if results[0] else "second")


async def test_a_value_the_server_refuses_fails_only_its_own_writer(
    uows: UnitOfWorkFactory,
) -> None:
    _, items = await seeded(uows, 5)
    before = await stored(uows, *items)
    changes = [running(e, f"job-{i}") for i, e in enumerate(before)]
    changes[2].error_code = "X" * 51  # the column holds 50 characters
    results = await asyncio.gather(
        *(single_update(uows, c) for c in changes), return_exceptions=True
    )
    assert [type(r) for r in results] == [bool, bool, StorageError, bool, bool]
    assert [r for r in results if isinstance(r, bool)] == [True] * 4
    after = await stored(uows, *items)
    assert after[2] == before[2]
    assert [e.provider_job_id for e in after] == ["job-0", "job-1", None, "job-3", "job-4"]


async def test_a_writer_cancelled_before_its_row_was_sent_writes_nothing(
    uows: UnitOfWorkFactory, postgres_engine: AsyncEngine
) -> None:
    _, items = await seeded(uows, 3)
    before = await stored(uows, *items)
    grouped = grouped_updates(
        lane_of(postgres_engine),
        postgres_engine.dialect,
        executions,
        execution_writes.WRITABLE,
        flights=1,
    )
    rows = [to_values(running(e, f"job-{i}")) for i, e in enumerate(before)]
    tasks = [asyncio.create_task(grouped.write(rows[0]))]
    for _ in range(3):
        await asyncio.sleep(0)  # the first row is in flight
    tasks += [asyncio.create_task(grouped.write(row)) for row in rows[1:]]
    await asyncio.sleep(0)  # the others wait for it
    tasks[2].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[:2] == [True, True]
    assert isinstance(done[2], asyncio.CancelledError)
    after = await stored(uows, *items)
    assert after[2] == before[2]
    assert grouped.statements == 2  # the first row alone, then the second


# --- admitting inserts -----------------------------------------------------------------


async def single_admit(uows: UnitOfWorkFactory, execution: Execution, limit: int | None) -> bool:
    async with uows() as uow:
        admitted = await uow.executions.admit(execution, Admission(limit), then=())
        await uow.commit()
    return admitted


async def exists(uows: UnitOfWorkFactory, execution: Execution) -> bool:
    async with uows() as uow:
        return await uow.executions.get(execution.id) is not None


async def more_consumers(uows: UnitOfWorkFactory, n: int) -> list[uuid.UUID]:
    people = [consumer() for _ in range(n)]
    async with uows() as uow:
        for person in people:
            await uow.consumers.add(person)
        await uow.commit()
    return [person.id for person in people]


@pytest.mark.parametrize("limit", [None, 3])
async def test_concurrent_runs_are_inserted_together_each_admitted_on_its_own(
    uows: UnitOfWorkFactory, postgres_engine: AsyncEngine, limit: int | None
) -> None:
    cat = await seed_catalog(uows)
    ids = await more_consumers(uows, 24)
    runs = [cat.execution(consumer_id=c) for c in ids]
    assert await asyncio.gather(*(single_admit(uows, r, limit) for r in runs)) == [True] * 24
    assert [await exists(uows, r) for r in runs] == [True] * 24
    grouped = execution_writes.GROUPED[lane_of(postgres_engine)][("admit", limit)]
    assert grouped.statements < 24


async def test_the_limit_holds_for_runs_of_one_consumer_sent_at_once(
    uows: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uows)
    await add_executions(uows, cat.execution(status=ExecutionStatus.QUEUED))
    others = [cat.execution(consumer_id=c) for c in await more_consumers(uows, 6)]
    mine = [cat.execution() for _ in range(4)]  # one more is allowed under a limit of 2
    results = await asyncio.gather(*(single_admit(uows, r, 2) for r in [*mine, *others]))
    assert sorted(results[:4]) == [False, False, False, True]
    assert results[4:] == [True] * 6
    assert [await exists(uows, r) for r in mine] == results[:4]


async def test_a_run_of_a_model_no_longer_runnable_is_refused_alone(
    uows: UnitOfWorkFactory,
) -> None:
    cat, stale = await seed_catalog(uows), await seed_catalog(uows)
    async with uows() as uow:
        archived = dataclasses.replace(stale.tars_model, status=TarsModelStatus.ARCHIVED)
        await uow.tars_models.update(archived)
        await uow.commit()
    ids = await more_consumers(uows, 5)
    runs = [cat.execution(consumer_id=c) for c in ids]
    runs[2] = stale.execution()
    results = await asyncio.gather(*(single_admit(uows, r, None) for r in runs))
    assert results == [True, True, False, True, True]
    assert [await exists(uows, r) for r in runs] == results


async def test_a_row_the_server_refuses_fails_only_its_own_run(uows: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uows)
    ids = await more_consumers(uows, 5)
    runs = [cat.execution(consumer_id=c) for c in ids]
    runs[1] = cat.execution(consumer_id=uuid.uuid4())  # no such consumer: a foreign key
    taken = cat.execution()
    await add_executions(uows, taken)
    runs[3] = cat.execution(consumer_id=ids[3], id=taken.id)  # an id already stored
    results = await asyncio.gather(
        *(single_admit(uows, r, 5) for r in runs), return_exceptions=True
    )
    assert [results[i] for i in (0, 2, 4)] == [True, True, True]
    assert isinstance(results[1], StorageError)
    assert isinstance(results[3], AlreadyExists)
    assert [await exists(uows, r) for r in (runs[0], runs[2], runs[4])] == [True] * 3


async def test_runs_with_an_idempotency_key_go_alone_and_clash_as_before(
    uows: UnitOfWorkFactory, postgres_engine: AsyncEngine
) -> None:
    cat = await seed_catalog(uows)
    keyed = [cat.execution(idempotency_key="k-1") for _ in range(3)]
    results = await asyncio.gather(
        *(single_admit(uows, r, None) for r in keyed), return_exceptions=True
    )
    assert sorted(map(repr, results)) == sorted(map(repr, [True, AlreadyExists(), AlreadyExists()]))
    assert ("admit", None) not in execution_writes.GROUPED.get(lane_of(postgres_engine), {})


async def test_without_a_connection_every_writer_of_the_group_gets_the_error() -> None:
    # Nothing listens on port 1: every connection attempt is refused at once.
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none", pool_size=4)
    try:
        grouped = grouped_updates(
            lane_of(engine), engine.dialect, executions, execution_writes.WRITABLE, flights=1
        )
        rows = [{"id": uuid.uuid4(), "version": 1} for _ in range(3)]
        rows = [r | dict.fromkeys(execution_writes.WRITABLE) for r in rows]
        results = await asyncio.wait_for(
            asyncio.gather(*(grouped.write(r) for r in rows), return_exceptions=True), 20
        )
        assert [type(r) for r in results] == [ConnectionRefusedError] * 3
        assert lane_of(engine).taken == 0
    finally:
        await engine.dispose()
