"""Contract: ``try_mark_polled`` and ``claim_due``."""

from __future__ import annotations

from datetime import timedelta, timezone

from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import add_executions, at, seed_catalog


async def test_try_mark_polled(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    running = cat.execution(status=ExecutionStatus.RUNNING)
    done = cat.execution(status=ExecutionStatus.COMPLETED)
    await add_executions(uow_factory, running, done)
    async with uow_factory() as uow:
        # Never polled: allowed. Right after, a poll "older than 1 s" is not due yet.
        assert await uow.executions.try_mark_polled(running.id, at(10), at(9))
        assert not await uow.executions.try_mark_polled(running.id, at(10.5), at(9.5))
        assert not await uow.executions.try_mark_polled(done.id, at(10), at(9))
        assert not await uow.executions.try_mark_polled(cat.execution().id, at(10), at(9))
        await uow.commit()
    async with uow_factory() as uow:
        # "At or before" is inclusive; the bound may come in any timezone.
        # A zone behind UTC: compared as local text it would look too early.
        new_york = timezone(timedelta(hours=-5))
        assert await uow.executions.try_mark_polled(running.id, at(20), at(10).astimezone(new_york))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(running.id)
    assert stored is not None
    assert stored.last_polled_at == at(20)
    assert stored.version == running.version  # not a state change


async def test_try_mark_polled_without_commit_is_forgotten(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    queued = cat.execution(status=ExecutionStatus.QUEUED)
    await add_executions(uow_factory, queued)
    async with uow_factory() as uow:
        assert await uow.executions.try_mark_polled(queued.id, at(10), at(9))
    async with uow_factory() as uow:
        assert await uow.executions.try_mark_polled(queued.id, at(10), at(9))


async def test_claim_due_takes_oldest_unfinished_first(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    pending = cat.execution(status=ExecutionStatus.PENDING, created_at=at(1))
    queued = cat.execution(status=ExecutionStatus.QUEUED, created_at=at(2))
    recently_polled = cat.execution(
        status=ExecutionStatus.RUNNING, created_at=at(0), last_polled_at=at(95)
    )
    running = cat.execution(status=ExecutionStatus.RUNNING, created_at=at(3), last_polled_at=at(80))
    finished = [
        cat.execution(status=status, created_at=at(-1))
        for status in ExecutionStatus
        if status.is_terminal
    ]
    await add_executions(uow_factory, pending, queued, recently_polled, running, *finished)
    async with uow_factory() as uow:
        first = await uow.executions.claim_due(at(100), at(90), limit=2)
        second = await uow.executions.claim_due(at(100), at(90), limit=2)
        await uow.commit()
    assert [x.id for x in first] == [pending.id, queued.id]
    assert [x.id for x in second] == [running.id]
    assert all(x.last_polled_at == at(100) for x in first + second)
    async with uow_factory() as uow:
        stored = await uow.executions.get(pending.id)
        again = await uow.executions.claim_due(at(101), at(90), limit=10)
        later = await uow.executions.claim_due(at(200), at(100), limit=10)
    assert stored is not None and stored.last_polled_at == at(100)
    assert stored.version == pending.version
    assert again == []
    assert {x.id for x in later} == {pending.id, queued.id, running.id, recently_polled.id}
    assert [x.created_at for x in later] == sorted(x.created_at for x in later)


async def test_claim_due_on_empty_store(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.executions.claim_due(at(0), at(0), limit=5) == []
