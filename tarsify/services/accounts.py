"""Registration and lookup of developers and consumers."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Protocol, TypeVar

from tarsify.domain.errors import AlreadyExists, AlreadyRegistered, UserNotRegistered
from tarsify.domain.models import Consumer, Developer, Identity, new_id
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory

U = TypeVar("U", Developer, Consumer)


class _IdCache:
    """A bounded map uid -> row id. Safe to cache: a user's id never changes once set."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, uuid.UUID] = OrderedDict()

    def get(self, uid: str) -> uuid.UUID | None:
        value = self._data.get(uid)
        if value is not None:
            self._data.move_to_end(uid)
        return value

    def put(self, uid: str, value: uuid.UUID) -> None:
        self._data[uid] = value
        self._data.move_to_end(uid)
        while len(self._data) > self._size:
            self._data.popitem(last=False)


class AccountService:
    """Creates and reads the developer and consumer rows behind verified identities."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, cache_size: int = 10_000) -> None:
        self._uow = uow
        self._clock = clock
        self._consumer_ids = _IdCache(cache_size)
        self._developer_ids = _IdCache(cache_size)

    async def register_developer(self, identity: Identity, name: str | None) -> Developer:
        """Create the developer for ``identity``; ``AlreadyRegistered`` if it exists."""
        now = self._clock.now()
        developer = Developer(
            new_id(), identity.uid, identity.email, _name(identity, name), now, now
        )
        async with self._uow() as uow:
            await _register(uow.developers, developer, uow)
        self._developer_ids.put(identity.uid, developer.id)
        return developer

    async def get_developer(self, identity: Identity) -> Developer:
        """The developer for ``identity``; ``UserNotRegistered`` if none."""
        async with self._uow() as uow:
            developer = await uow.developers.get_by_uid(identity.uid)
        if developer is None:
            raise UserNotRegistered()
        self._developer_ids.put(identity.uid, developer.id)
        return developer

    async def developer_id(self, identity: Identity) -> uuid.UUID:
        """The developer row id for ``identity`` (cached); ``UserNotRegistered`` if none."""
        cached = self._developer_ids.get(identity.uid)
        return cached if cached is not None else (await self.get_developer(identity)).id

    async def register_consumer(self, identity: Identity, name: str | None) -> Consumer:
        """Create the consumer for ``identity``; ``AlreadyRegistered`` if it exists."""
        now = self._clock.now()
        consumer = Consumer(new_id(), identity.uid, identity.email, _name(identity, name), now, now)
        async with self._uow() as uow:
            await _register(uow.consumers, consumer, uow)
        self._consumer_ids.put(identity.uid, consumer.id)
        return consumer

    async def get_consumer(self, identity: Identity) -> Consumer:
        """The consumer for ``identity``; ``UserNotRegistered`` if none."""
        async with self._uow() as uow:
            consumer = await uow.consumers.get_by_uid(identity.uid)
        if consumer is None:
            raise UserNotRegistered()
        self._consumer_ids.put(identity.uid, consumer.id)
        return consumer

    async def consumer_id(self, identity: Identity) -> uuid.UUID:
        """The consumer row id for ``identity`` (cached); ``UserNotRegistered`` if none."""
        cached = self._consumer_ids.get(identity.uid)
        return cached if cached is not None else (await self.get_consumer(identity)).id


class _UserRepository(Protocol[U]):
    async def add(self, user: U) -> None: ...

    async def get_by_uid(self, uid: str) -> U | None: ...


def _name(identity: Identity, name: str | None) -> str | None:
    return name if name is not None else identity.name


async def _register(repo: _UserRepository[U], user: U, uow: UnitOfWork) -> None:
    """Insert ``user`` unless its uid is registered (also when a concurrent insert wins)."""
    if await repo.get_by_uid(user.uid) is not None:
        raise AlreadyRegistered()
    try:
        await repo.add(user)
        await uow.commit()
    except AlreadyExists as exc:
        raise AlreadyRegistered() from exc
