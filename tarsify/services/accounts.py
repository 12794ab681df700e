"""Registration and lookup of developers and consumers."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from tarsify.domain.errors import AlreadyExists, AlreadyRegistered, UserNotRegistered
from tarsify.domain.models import Consumer, Developer, Identity, new_id
from tarsify.ports import Clock, UnitOfWorkFactory


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
            id=new_id(),
            uid=identity.uid,
            email=identity.email,
            name=name if name is not None else identity.name,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if await uow.developers.get_by_uid(identity.uid) is not None:
                raise AlreadyRegistered()
            try:
                await uow.developers.add(developer)
                await uow.commit()
            except AlreadyExists as exc:
                raise AlreadyRegistered() from exc
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
        if cached is not None:
            return cached
        return (await self.get_developer(identity)).id

    async def register_consumer(self, identity: Identity, name: str | None) -> Consumer:
        """Create the consumer for ``identity``; ``AlreadyRegistered`` if it exists."""
        now = self._clock.now()
        consumer = Consumer(
            id=new_id(),
            uid=identity.uid,
            email=identity.email,
            name=name if name is not None else identity.name,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if await uow.consumers.get_by_uid(identity.uid) is not None:
                raise AlreadyRegistered()
            try:
                await uow.consumers.add(consumer)
                await uow.commit()
            except AlreadyExists as exc:
                raise AlreadyRegistered() from exc
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
        if cached is not None:
            return cached
        return (await self.get_consumer(identity)).id
