"""``ExecutionRepository.admit``: the insert that decides, with itself, whether a run may
be stored (every backend; PostgreSQL also across connections at once)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from adapters.sql.tables import ACTIVE_EXECUTION_PREDICATE
from adapters.sql.tables.runs import UNFINISHED_PREDICATE
from tarsify.domain.admission import Admission
from tarsify.domain.errors import AlreadyExists
from tarsify.domain.models import ExecutionStatus, TarsModelStatus
from tarsify.domain.pagination import PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import (
    ACTIVE,
    Catalog,
    add_executions,
    endpoint,
    seed_catalog,
    tars_model,
)

MIGRATION = Path(__file__).parents[2] / "migrations/versions/0009_consumer_active_executions.py"


async def admit(uow_factory: UnitOfWorkFactory, cat: Catalog, admission: Admission) -> bool:
    execution = cat.execution()
    async with uow_factory() as uow:
        stored = await uow.executions.admit(execution, admission, then=())
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.executions.get(execution.id)
    assert (found is not None) == stored  # refused means nothing stored
    return stored


async def count(uow_factory: UnitOfWorkFactory, cat: Catalog) -> int:
    async with uow_factory() as uow:
        page = await uow.executions.list_for_consumer(cat.consumer.id, PageRequest(100))
    return len(page.items)


async def test_a_runnable_model_is_admitted_without_a_limit(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    assert await admit(uow_factory, cat, Admission())
    assert await admit(uow_factory, cat, Admission(None))
    assert await count(uow_factory, cat) == 2


async def test_the_limit_counts_only_the_consumers_unfinished_executions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    other = await seed_catalog(uow_factory)
    finished = [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED]
    await add_executions(
        uow_factory,
        *(cat.execution(status=s) for s in [*ACTIVE[:2], *finished, ExecutionStatus.TIMED_OUT]),
        *(other.execution(status=s) for s in ACTIVE),
    )
    # Two unfinished of its own: a limit of 3 admits one more, then refuses.
    assert not await admit(uow_factory, cat, Admission(2))
    assert await admit(uow_factory, cat, Admission(3))
    assert not await admit(uow_factory, cat, Admission(3))
    assert await admit(uow_factory, cat, Admission(4))
    assert await admit(uow_factory, other, Admission(4))
    assert not await admit(uow_factory, other, Admission(4))


@pytest.mark.parametrize("change", ["unpublished", "base inactive", "endpoint inactive", "moved"])
async def test_a_model_that_cannot_run_there_is_refused(
    uow_factory: UnitOfWorkFactory, change: str
) -> None:
    cat = await seed_catalog(uow_factory)
    async with uow_factory() as uow:
        if change == "unpublished":
            model = dataclasses.replace(cat.tars_model, status=TarsModelStatus.ARCHIVED)
            await uow.tars_models.update(model)
        elif change == "base inactive":
            await uow.base_models.update(dataclasses.replace(cat.base_model, is_active=False))
        elif change == "endpoint inactive":
            await uow.endpoints.update(dataclasses.replace(cat.endpoint, is_active=False))
        else:
            new = endpoint()
            await uow.endpoints.add(new)
            await uow.base_models.update(dataclasses.replace(cat.base_model, endpoint_id=new.id))
        await uow.commit()
    assert not await admit(uow_factory, cat, Admission())
    assert not await admit(uow_factory, cat, Admission(10))
    assert await count(uow_factory, cat) == 0


async def test_a_taken_idempotency_key_is_already_exists(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first = cat.execution(idempotency_key="k")
    async with uow_factory() as uow:
        assert await uow.executions.admit(first, Admission(5))
        await uow.commit()
    with pytest.raises(AlreadyExists):
        async with uow_factory() as uow:
            await uow.executions.admit(cat.execution(idempotency_key="k"), Admission(5))
    assert await count(uow_factory, cat) == 1


async def test_concurrent_admissions_never_pass_the_limit(uow_factory: UnitOfWorkFactory) -> None:
    """Thirty at once, one consumer, a limit of 7: each insert counts after the others'."""
    cat = await seed_catalog(uow_factory)

    async def one() -> bool:
        async with uow_factory() as uow:
            stored = await uow.executions.admit(cat.execution(), Admission(7), then=())
            await uow.commit()
            return stored

    outcomes = await asyncio.gather(*(one() for _ in range(30)))
    assert sum(outcomes) == 7
    assert await count(uow_factory, cat) == 7


def test_the_migrations_function_counts_the_unfinished_statuses() -> None:
    """0009 keeps a frozen copy of the predicate: it must still match the table's."""
    assert ACTIVE_EXECUTION_PREDICATE in MIGRATION.read_text()


TESTS = Path(__file__).parents[2] / "migrations/versions/0020_developer_active_test_runs.py"


async def admit_test_run(uow_factory: UnitOfWorkFactory, cat: Catalog, limit: int | None) -> bool:
    """Admit a developer's test run (no consumer) of ``cat``'s model under ``limit``."""
    execution = cat.execution(consumer_id=None)
    async with uow_factory() as uow:
        stored = await uow.executions.admit(execution, Admission(limit, drafts=True), then=())
        await uow.commit()
    return stored


async def test_a_developers_unfinished_test_runs_are_bounded_across_their_models(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    second = tars_model(cat.developer.id, cat.base_model.id)  # a DRAFT of the same developer
    async with uow_factory() as uow:
        await uow.tars_models.add(second)
        await uow.commit()
    drafts = dataclasses.replace(cat, tars_model=second)
    other = await seed_catalog(uow_factory)  # another developer's
    await add_executions(
        uow_factory,
        cat.execution(consumer_id=None, status=ExecutionStatus.RUNNING),
        cat.execution(consumer_id=None, status=ExecutionStatus.COMPLETED),
        cat.execution(status=ExecutionStatus.RUNNING),  # a consumer's run: not a test
        other.execution(consumer_id=None, status=ExecutionStatus.QUEUED),
    )
    # One unfinished test run of their own: a limit of 2 admits one more, on either model.
    assert not await admit_test_run(uow_factory, cat, 1)
    assert await admit_test_run(uow_factory, drafts, 2)
    assert not await admit_test_run(uow_factory, cat, 2)
    assert await admit_test_run(uow_factory, cat, 3)
    assert await admit_test_run(uow_factory, other, 2)
    assert await admit_test_run(uow_factory, cat, None)  # no limit


async def test_concurrent_test_runs_never_pass_the_developers_limit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    outcomes = await asyncio.gather(*(admit_test_run(uow_factory, cat, 4) for _ in range(20)))
    assert sum(outcomes) == 4


def test_the_test_runs_function_counts_the_unfinished_statuses() -> None:
    assert UNFINISHED_PREDICATE.replace("status", "e.status") in TESTS.read_text()
