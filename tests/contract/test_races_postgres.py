"""Concurrent writers with real open transactions.

Compare-and-set runs on every backend (PostgreSQL row locks, SQLite's single writer, the
memory fake's row locks); ``claim_due`` disjointness needs ``SKIP LOCKED``, so it runs on
PostgreSQL and on the memory fake that imitates it.
"""

from __future__ import annotations

import asyncio

import pytest

from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tests.contract.conftest import factory_for
from tests.contract.factories import add_executions, at, seed_catalog

HOLD = 0.05  # seconds a writer keeps its row lock, so the other must wait on it


async def _write_and_commit(uow: UnitOfWork, execution: Execution) -> bool:
    written = await uow.executions.update(execution)
    await asyncio.sleep(HOLD)
    await uow.commit()
    return written


@pytest.mark.parametrize("loser", [ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED])
async def test_exactly_one_of_two_racing_writers_wins(
    uow_factory: UnitOfWorkFactory, loser: ExecutionStatus
) -> None:
    cat = await seed_catalog(uow_factory)
    for _ in range(3):
        execution = cat.execution(status=ExecutionStatus.QUEUED, provider_job_id=None)
        await add_executions(uow_factory, execution)
        async with uow_factory() as a, uow_factory() as b:
            mine, theirs = (
                await a.executions.get(execution.id),
                await b.executions.get(execution.id),
            )
            assert mine is not None and theirs is not None
            mine.status, theirs.status = ExecutionStatus.COMPLETED, loser
            results = await asyncio.gather(_write_and_commit(a, mine), _write_and_commit(b, theirs))
        assert sorted(results) == [False, True]
        async with uow_factory() as uow:
            stored = await uow.executions.get(execution.id)
        assert stored is not None and stored.version == 2
        assert stored.status == (ExecutionStatus.COMPLETED if results[0] else loser)


async def test_a_terminal_status_is_never_overwritten(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.RUNNING)
    await add_executions(uow_factory, execution)
    async with uow_factory() as a, uow_factory() as b:
        done, stale = await a.executions.get(execution.id), await b.executions.get(execution.id)
        assert done is not None and stale is not None
        done.status, done.completed_at = ExecutionStatus.COMPLETED, at(5)
        assert await a.executions.update(done)
        # b computed "still running" from the old state; its write waits for a's lock.
        stale.last_polled_at = at(6)
        late = asyncio.create_task(b.executions.update(stale))
        await asyncio.sleep(HOLD)
        await a.commit()
        assert await late is False
        await b.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored is not None and stored.status == ExecutionStatus.COMPLETED
    assert stored.last_polled_at is None


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def locking_uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """Backends with row locks (SQLite has one writer and nothing to skip)."""
    return factory_for(request.param, request)


async def test_concurrent_claims_are_disjoint(locking_uow_factory: UnitOfWorkFactory) -> None:
    uow_factory = locking_uow_factory
    cat = await seed_catalog(uow_factory)
    due = [cat.execution(status=ExecutionStatus.QUEUED, created_at=at(i)) for i in range(10)]
    await add_executions(uow_factory, *due)
    async with uow_factory() as a, uow_factory() as b:
        first = await a.executions.claim_due(at(100), at(50), limit=6)
        # a's transaction is still open: its rows are locked and must be skipped.
        second = await b.executions.claim_due(at(100), at(50), limit=6)
        # Neither sees anything left: its own claims are fresh, the other's are locked.
        again = await asyncio.gather(
            *(c.executions.claim_due(at(100), at(50), limit=6) for c in (a, b))
        )
        await a.commit()
        await b.commit()
    first_ids, second_ids = {x.id for x in first}, {x.id for x in second}
    assert len(first_ids) == 6 and len(second_ids) == 4
    assert first_ids.isdisjoint(second_ids)
    assert first_ids | second_ids == {x.id for x in due}
    assert [x.id for x in first] == [x.id for x in due[:6]]  # oldest first
    assert again == [[], []]
