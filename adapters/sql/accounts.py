"""Developer and consumer repositories."""

from __future__ import annotations

import uuid
from typing import Generic, TypeVar

from sqlalchemy import Insert, Table, bindparam, insert, select

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, to_values
from adapters.sql.query import Query
from adapters.sql.tables import consumers, developers
from tarsify.domain.models import Consumer, Developer

A = TypeVar("A", Developer, Consumer)


class _AccountRepository(Generic[A]):
    """Accounts keyed by id and by the identity provider's uid."""

    shape: Shape[A]
    by: dict[str, Query]  # column -> SELECT of the entity WHERE column = :value
    inserting: Insert

    def __init__(self, db: Db) -> None:
        self._db = db

    async def _add(self, account: A) -> None:
        await self._db.execute_isolated(self.inserting, to_values(account))

    async def _get_where(self, column: str, value: object) -> A | None:
        row = await self._db.fetch_one(self.by[column], {"p_value": value})
        return None if row is None else self.shape.load(row)


def _lookups(shape: Shape[A], table: Table) -> dict[str, Query]:
    return {
        column: Query(select(*shape.columns).where(table.c[column] == bindparam("p_value")))
        for column in ("id", "uid")
    }


_DEVELOPER = Shape(Developer, developers)
_CONSUMER = Shape(Consumer, consumers)


class SqlDeveloperRepository(_AccountRepository[Developer]):
    """Developers in the ``developers`` table."""

    shape, by, inserting = _DEVELOPER, _lookups(_DEVELOPER, developers), insert(developers)

    @guarded("developers.add")
    async def add(self, developer: Developer) -> None:
        """Insert; ``AlreadyExists`` when the uid is taken."""
        await self._add(developer)

    @guarded("developers.get")
    async def get(self, developer_id: uuid.UUID) -> Developer | None:
        """By id."""
        return await self._get_where("id", developer_id)

    @guarded("developers.get_by_uid")
    async def get_by_uid(self, uid: str) -> Developer | None:
        """By the identity provider's uid."""
        return await self._get_where("uid", uid)


class SqlConsumerRepository(_AccountRepository[Consumer]):
    """Consumers in the ``consumers`` table."""

    shape, by, inserting = _CONSUMER, _lookups(_CONSUMER, consumers), insert(consumers)

    @guarded("consumers.add")
    async def add(self, consumer: Consumer) -> None:
        """Insert; ``AlreadyExists`` when the uid is taken."""
        await self._add(consumer)

    @guarded("consumers.get")
    async def get(self, consumer_id: uuid.UUID) -> Consumer | None:
        """By id."""
        return await self._get_where("id", consumer_id)

    @guarded("consumers.get_by_uid")
    async def get_by_uid(self, uid: str) -> Consumer | None:
        """By the identity provider's uid."""
        return await self._get_where("uid", uid)
