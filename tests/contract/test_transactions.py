"""Contract: unit of work semantics shared by every backend."""

from __future__ import annotations

import pytest

from tarsify.domain.errors import AlreadyExists
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import add_executions, consumer, developer, seed_catalog


async def test_changes_are_invisible_to_others_until_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    dev = developer()
    async with uow_factory() as writer, uow_factory() as reader:
        await writer.developers.add(dev)
        assert await writer.developers.get(dev.id) == dev  # own writes are visible
        assert await reader.developers.get(dev.id) is None
        await writer.commit()
        assert await reader.developers.get(dev.id) == dev


async def test_leaving_without_commit_discards(uow_factory: UnitOfWorkFactory) -> None:
    dev = developer()
    async with uow_factory() as uow:
        await uow.developers.add(dev)
    async with uow_factory() as uow:
        assert await uow.developers.get(dev.id) is None


async def test_an_exception_rolls_back_and_propagates(uow_factory: UnitOfWorkFactory) -> None:
    dev = developer()
    with pytest.raises(ZeroDivisionError):
        async with uow_factory() as uow:
            await uow.developers.add(dev)
            _ = 1 / 0
    async with uow_factory() as uow:
        assert await uow.developers.get(dev.id) is None


async def test_rollback_discards_and_the_unit_of_work_goes_on(
    uow_factory: UnitOfWorkFactory,
) -> None:
    discarded, kept, later = developer(), developer(), developer()
    async with uow_factory() as uow:
        await uow.developers.add(discarded)
        await uow.rollback()
        assert await uow.developers.get(discarded.id) is None
        await uow.developers.add(kept)
        await uow.commit()
        await uow.developers.add(later)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.developers.get(discarded.id) is None
        assert await uow.developers.get(kept.id) == kept
        assert await uow.developers.get(later.id) == later


async def test_a_unique_clash_leaves_the_unit_of_work_usable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = consumer(uid="taken")
    async with uow_factory() as uow:
        await uow.consumers.add(first)
        await uow.commit()
    other = consumer()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.consumers.add(consumer(uid="taken"))
        await uow.consumers.add(other)
        assert await uow.consumers.get_by_uid("taken") == first
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consumers.get(other.id) == other


async def test_returned_and_given_entities_are_copies(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(input_payload={"prompt": "cat", "tags": ["a"]})
    await add_executions(uow_factory, execution)
    execution.input_payload["tags"].append("changed after add")  # type: ignore[index]
    async with uow_factory() as uow:
        loaded = await uow.executions.get(execution.id)
        assert loaded is not None
        loaded.status = ExecutionStatus.CANCELLED
        loaded.input_payload["tags"].append("changed after get")  # type: ignore[index]
        model = await uow.tars_models.get(cat.tars_model.id)
        assert model is not None
        model.title = "mutated"
        again = await uow.executions.get(execution.id)
        assert again is not None and again.status == ExecutionStatus.PENDING
        assert again.input_payload == {"prompt": "cat", "tags": ["a"]}
        await uow.commit()
    async with uow_factory() as uow:
        stored_model = await uow.tars_models.get(cat.tars_model.id)
        stored = await uow.executions.get(execution.id)
    assert stored_model == cat.tars_model
    assert stored is not None and stored.input_payload == {"prompt": "cat", "tags": ["a"]}
