"""Group commit (adapters/sql/grouped.py) on a real PostgreSQL: concurrent single-write
compare-and-sets go out as fewer statements than rows, and each row keeps the outcome it
would have had alone."""

from __future__ import annotations

import asyncio
import dataclasses
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import executions as sql_executions
from adapters.sql.db import session_factory
from adapters.sql.grouped import GroupedUpdates
from adapters.sql.lane import Lane
from adapters.sql.mapping import to_values
from adapters.sql.tables import executions
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.errors import StorageError
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.ports import UnitOfWorkFactory
from tests.contract.factories import Catalog, add_executions, seed_catalog

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
    async with uows(single_write=True) as uow:
        written = await uow.executions.update(execution)
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


async def test_concurrent_single_writes_share_statements_and_each_is_written(
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
    grouped = sql_executions._GROUPED[lane_of(postgres_engine)]
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
    grouped = GroupedUpdates(
        lane_of(postgres_engine),
        postgres_engine.dialect,
        executions,
        sql_executions._WRITABLE,
        flights=1,
    )
    rows = [to_values(running(e, f"job-{i}")) for i, e in enumerate(before)]
    tasks = [asyncio.create_task(grouped.update(rows[0]))]
    for _ in range(3):
        await asyncio.sleep(0)  # the first row is in flight
    tasks += [asyncio.create_task(grouped.update(row)) for row in rows[1:]]
    await asyncio.sleep(0)  # the others wait for it
    tasks[2].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[:2] == [True, True]
    assert isinstance(done[2], asyncio.CancelledError)
    after = await stored(uows, *items)
    assert after[2] == before[2]
    assert grouped.statements == 2  # the first row alone, then the second
