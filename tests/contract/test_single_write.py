"""Contract: whole changes (a write of an execution given ``then``, then commit).

One with nothing to follow runs, on PostgreSQL, without a transaction around it (no
BEGIN, no COMMIT round trip); one with follow-ups runs them in its transaction. Every
backend must give the same answers as a transactional unit of work.
"""

from __future__ import annotations

import dataclasses

import pytest

from tarsify.domain.admission import Admission
from tarsify.domain.errors import AlreadyExists
from tarsify.domain.models import Consumer, ExecutionStatus
from tarsify.ports.repositories import FollowUp
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tests.contract.factories import add_executions, at, consumer, seed_catalog

ANYONE = Admission(None)


async def test_an_insert_then_commit_is_seen_by_others(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    async with uow_factory() as uow:
        assert await uow.tars_models.get_run_target(cat.tars_model.slug) is not None
        assert await uow.executions.admit(execution, ANYONE, then=())
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.executions.get(execution.id) == execution


async def test_a_unique_clash_raises_and_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first = cat.execution(idempotency_key="k")
    await add_executions(uow_factory, first)
    clash = cat.execution(idempotency_key="k")
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.executions.admit(clash, ANYONE, then=())
        # The unit of work can still read after the failed write.
        assert await uow.executions.get(first.id) == first
    async with uow_factory() as uow:
        assert await uow.executions.get(clash.id) is None


async def test_compare_and_set_as_a_whole_change(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.PENDING)
    await add_executions(uow_factory, execution)
    stale = dataclasses.replace(execution, version=execution.version + 7)
    async with uow_factory() as uow:
        assert not await uow.executions.update(stale, then=())
    queued = dataclasses.replace(execution, status=ExecutionStatus.QUEUED)
    async with uow_factory() as uow:
        assert await uow.executions.update(queued, then=())
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored is not None
    assert (stored.status, stored.version) == (ExecutionStatus.QUEUED, execution.version + 1)


async def test_try_mark_polled_as_a_whole_change(uow_factory: UnitOfWorkFactory) -> None:
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
        async with uow_factory() as uow:
            marked = await uow.executions.try_mark_polled(execution_id, now, polled_before, then=())
            assert marked is due
            await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(running.id)
    assert stored is not None and stored.last_polled_at == at(20)


async def test_a_write_after_a_whole_change_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first, second = cat.execution(), cat.execution()
    async with uow_factory() as uow:
        assert await uow.executions.admit(first, ANYONE, then=())
        with pytest.raises(RuntimeError, match="whole change"):
            await uow.executions.add(second)
    async with uow_factory() as uow:
        assert await uow.executions.get(second.id) is None


# --- follow-ups --------------------------------------------------------------------------


async def test_follow_ups_commit_with_the_change_and_only_when_it_was_made(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.PENDING)
    await add_executions(uow_factory, execution)
    stale = dataclasses.replace(execution, version=execution.version + 1)
    queued = dataclasses.replace(execution, status=ExecutionStatus.QUEUED)
    lost, kept = consumer(), consumer()

    def adding(uow: UnitOfWork, person: Consumer) -> FollowUp:
        async def add() -> None:
            await uow.consumers.add(person)

        return add

    async with uow_factory() as uow:
        assert not await uow.executions.update(stale, then=[adding(uow, lost)])
    async with uow_factory() as uow:
        assert await uow.executions.update(queued, then=[adding(uow, kept)])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consumers.get(lost.id) is None
        assert await uow.consumers.get(kept.id) == kept
        stored = await uow.executions.get(execution.id)
    assert stored is not None and stored.status is ExecutionStatus.QUEUED


async def test_a_raising_follow_up_undoes_the_change(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()

    async def refuse() -> None:
        raise ZeroDivisionError()

    with pytest.raises(ZeroDivisionError):
        async with uow_factory() as uow:
            await uow.executions.admit(execution, ANYONE, then=[refuse])
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.executions.get(execution.id) is None


async def test_a_whole_change_after_other_writes_is_undone_with_them(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.PENDING)
    await add_executions(uow_factory, execution)
    person = consumer()
    async with uow_factory() as uow:
        await uow.consumers.add(person)
        queued = dataclasses.replace(execution, status=ExecutionStatus.QUEUED)
        assert await uow.executions.update(queued, then=())
        # Left without commit: the change joined the open transaction, undone with it.
    async with uow_factory() as uow:
        assert await uow.consumers.get(person.id) is None
        assert await uow.executions.get(execution.id) == execution
