"""Contract: developer and consumer repositories."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta, timezone

import pytest

from tarsify.domain.errors import AlreadyExists
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import T0, consumer, developer


async def test_developer_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    dev = developer(earnings_balance=1234)
    async with uow_factory() as uow:
        await uow.developers.add(dev)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.developers.get(dev.id) == dev
        assert await uow.developers.get_by_uid(dev.uid) == dev
        assert await uow.developers.get(uuid.uuid4()) is None
        assert await uow.developers.get_by_uid("nobody") is None


async def test_consumer_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    con = consumer(credits_balance=50, name="Ada Ü")
    async with uow_factory() as uow:
        await uow.consumers.add(con)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consumers.get(con.id) == con
        assert await uow.consumers.get_by_uid(con.uid) == con
        assert await uow.consumers.get(uuid.uuid4()) is None


async def test_timestamps_come_back_aware_utc_to_the_microsecond(
    uow_factory: UnitOfWorkFactory,
) -> None:
    paris = timezone(timedelta(hours=2))
    dev = developer(created_at=T0.astimezone(paris), updated_at=T0 + timedelta(microseconds=1))
    async with uow_factory() as uow:
        await uow.developers.add(dev)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.developers.get(dev.id)
    assert stored is not None
    assert stored.created_at == T0 and stored.created_at.microsecond == T0.microsecond
    assert stored.updated_at == T0 + timedelta(microseconds=1)
    for value in (stored.created_at, stored.updated_at):
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is not None and value.astimezone(UTC) == value


@pytest.mark.parametrize("repo", ["developers", "consumers"])
async def test_uid_is_unique(uow_factory: UnitOfWorkFactory, repo: str) -> None:
    make = developer if repo == "developers" else consumer
    first = make(uid="same-uid")
    async with uow_factory() as uow:
        await getattr(uow, repo).add(first)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await getattr(uow, repo).add(make(uid="same-uid"))
        with pytest.raises(AlreadyExists):
            await getattr(uow, repo).add(make(id=first.id))


async def test_developer_and_consumer_uids_are_separate(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.developers.add(developer(uid="both"))
        await uow.consumers.add(consumer(uid="both"))
        await uow.commit()
    async with uow_factory() as uow:
        dev = await uow.developers.get_by_uid("both")
        con = await uow.consumers.get_by_uid("both")
    assert dev is not None and con is not None
