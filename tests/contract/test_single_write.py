"""Contract: single-write units of work (one INSERT or UPDATE, then commit).

On PostgreSQL the write runs without a transaction around it (no BEGIN, no COMMIT round
trip); every backend must still give the same answers as a transactional unit of work.
"""

from __future__ import annotations

import dataclasses

import pytest

from tarsify.domain.errors import AlreadyExists
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import add_executions, at, seed_catalog


async def test_an_insert_then_commit_is_seen_by_others(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    async with uow_factory(single_write=True) as uow:
        assert await uow.tars_models.get_run_target(cat.tars_model.slug) is not None
        await uow.executions.add(execution)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.executions.get(execution.id) == execution


async def test_a_unique_clash_raises_and_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first = cat.execution(idempotency_key="k")
    await add_executions(uow_factory, first)
    clash = cat.execution(idempotency_key="k")
    async with uow_factory(single_write=True) as uow:
        with pytest.raises(AlreadyExists):
            await uow.executions.add(clash)
        # The unit of work can still read after the failed write.
        assert await uow.executions.get(first.id) == first
    async with uow_factory() as uow:
        assert await uow.executions.get(clash.id) is None


async def test_compare_and_set_in_a_single_write(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.PENDING)
    await add_executions(uow_factory, execution)
    stale = dataclasses.replace(execution, version=execution.version + 7)
    async with uow_factory(single_write=True) as uow:
        assert not await uow.executions.update(stale)
    queued = dataclasses.replace(execution, status=ExecutionStatus.QUEUED)
    async with uow_factory(single_write=True) as uow:
        assert await uow.executions.update(queued)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored is not None
    assert (stored.status, stored.version) == (ExecutionStatus.QUEUED, execution.version + 1)


async def test_try_mark_polled_in_a_single_write(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    running = cat.execution(status=ExecutionStatus.RUNNING)
    done = cat.execution(status=ExecutionStatus.COMPLETED)
    await add_executions(uow_factory, running, done)
    for execution_id, now, polled_before, due in (
        (running.id, at(10), at(9), True),
        (running.id, at(10.5), at(9.5), False),  # polled at 10: not due yet
        (done.id, at(10), at(9), False),
        (running.id, at(20), at(10), True),  # "at or before" is inclusive
    ):
        async with uow_factory(single_write=True) as uow:
            assert await uow.executions.try_mark_polled(execution_id, now, polled_before) is due
            await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(running.id)
    assert stored is not None and stored.last_polled_at == at(20)


async def test_a_second_write_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first, second = cat.execution(), cat.execution()
    async with uow_factory(single_write=True) as uow:
        await uow.executions.add(first)
        with pytest.raises(RuntimeError, match="single-write"):
            await uow.executions.add(second)
    async with uow_factory() as uow:
        assert await uow.executions.get(second.id) is None
