"""Contract: the API key repository, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tarsify.domain.api_keys import ApiKey
from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.models import Consumer
from tarsify.domain.pagination import Cursor, PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import T0, at, consumer


def api_key(owner: Consumer, **kw: Any) -> ApiKey:
    """A key record of ``owner`` with a unique hash."""
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(),
        consumer_id=owner.id,
        name="ci",
        prefix="tsk_abcdefgh",
        key_hash=uuid.uuid4().hex * 2,
        created_at=T0,
    )
    return ApiKey(**(fields | kw))


async def _store(uow_factory: UnitOfWorkFactory, *items: Consumer | ApiKey) -> None:
    async with uow_factory() as uow:
        for item in items:
            if isinstance(item, Consumer):
                await uow.consumers.add(item)
            else:
                await uow.api_keys.add(item)
        await uow.commit()


async def test_round_trip_and_lookup_by_hash(uow_factory: UnitOfWorkFactory) -> None:
    owner = consumer(name="Ada")
    key = api_key(owner)
    await _store(uow_factory, owner, key)
    async with uow_factory() as uow:
        assert await uow.api_keys.get(key.id) == key
        assert await uow.api_keys.get(uuid.uuid4()) is None
        found = await uow.api_keys.find_active(key.key_hash)
        assert await uow.api_keys.find_active("0" * 64) is None
    assert found is not None
    assert found.key == key
    assert (found.uid, found.email, found.name) == (owner.uid, owner.email, "Ada")


async def test_hash_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    owner = consumer()
    first = api_key(owner)
    await _store(uow_factory, owner, first)
    with pytest.raises(AlreadyExists):
        await _store(uow_factory, api_key(owner, key_hash=first.key_hash))


async def test_a_key_needs_an_existing_consumer(uow_factory: UnitOfWorkFactory) -> None:
    orphan = api_key(consumer())
    with pytest.raises(StorageError):
        await _store(uow_factory, orphan)
    async with uow_factory() as uow:
        assert await uow.api_keys.get(orphan.id) is None


async def test_revoke_once_and_revoked_keys_are_not_found(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = consumer()
    key = api_key(owner)
    await _store(uow_factory, owner, key)
    async with uow_factory() as uow:
        assert await uow.api_keys.revoke(key.id, at(5)) is True
        assert await uow.api_keys.revoke(key.id, at(6)) is False
        assert await uow.api_keys.revoke(uuid.uuid4(), at(6)) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.find_active(key.key_hash) is None
        stored = await uow.api_keys.get(key.id)
        assert await uow.api_keys.touch(key.id, at(9), at(8)) is False
    assert stored is not None and stored.revoked_at == at(5)


async def test_revoke_without_commit_changes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    owner = consumer()
    key = api_key(owner)
    await _store(uow_factory, owner, key)
    async with uow_factory() as uow:
        assert await uow.api_keys.revoke(key.id, at(5))
    async with uow_factory() as uow:
        assert await uow.api_keys.find_active(key.key_hash) is not None


async def test_touch_writes_only_when_last_use_is_older(uow_factory: UnitOfWorkFactory) -> None:
    owner = consumer()
    key = api_key(owner)
    await _store(uow_factory, owner, key)
    async with uow_factory() as uow:
        assert await uow.api_keys.touch(key.id, at(100), at(40)) is True  # never used
        assert await uow.api_keys.touch(key.id, at(130), at(70)) is False  # 100 is not < 70
        assert await uow.api_keys.touch(key.id, at(170), at(110)) is True  # 100 < 110
        assert await uow.api_keys.touch(uuid.uuid4(), at(170), at(110)) is False
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.api_keys.get(key.id)
    assert stored is not None and stored.last_used_at == at(170)


async def test_list_active_newest_first_paged_own_only(uow_factory: UnitOfWorkFactory) -> None:
    owner, other = consumer(), consumer()
    keys = [api_key(owner, created_at=at(i), name=f"k{i}") for i in range(5)]
    await _store(uow_factory, owner, other, *keys, api_key(other, created_at=at(9)))
    async with uow_factory() as uow:
        await uow.api_keys.revoke(keys[3].id, at(10))
        await uow.commit()
    seen: list[str] = []
    page = PageRequest(limit=2)
    async with uow_factory() as uow:
        while True:
            result = await uow.api_keys.list_active(owner.id, page)
            seen += [k.name for k in result.items]
            if result.next_cursor is None:
                break
            page = PageRequest(limit=2, after=Cursor.decode(result.next_cursor))
    assert seen == ["k4", "k2", "k1", "k0"]


async def test_add_within_counts_only_the_consumers_unrevoked_keys(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = consumer(), consumer()
    await _store(uow_factory, owner, other, api_key(other), api_key(other))
    first, second = api_key(owner), api_key(owner)
    async with uow_factory() as uow:
        assert await uow.api_keys.add_within(first, 2)
        assert await uow.api_keys.add_within(second, 2)
        assert not await uow.api_keys.add_within(api_key(owner), 2)  # the third
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.revoke(first.id, at(1))
        await uow.commit()
    third = api_key(owner)
    async with uow_factory() as uow:
        assert await uow.api_keys.add_within(third, 2)  # a revoked key frees its place
        await uow.commit()
    async with uow_factory() as uow:
        page = await uow.api_keys.list_active(owner.id, PageRequest(100))
        assert {k.id for k in page.items} == {second.id, third.id}
        with pytest.raises(AlreadyExists):
            await uow.api_keys.add_within(api_key(other, key_hash=third.key_hash), 5)


async def test_concurrent_adds_never_pass_the_limit(uow_factory: UnitOfWorkFactory) -> None:
    owner = consumer()
    await _store(uow_factory, owner)

    async def add_one() -> bool:
        async with uow_factory() as uow:
            added = await uow.api_keys.add_within(api_key(owner), 3)
            await uow.commit()
            return added

    results = await asyncio.gather(*(add_one() for _ in range(8)))
    assert sorted(results) == [False] * 5 + [True] * 3
    async with uow_factory() as uow:
        assert len((await uow.api_keys.list_active(owner.id, PageRequest(100))).items) == 3
