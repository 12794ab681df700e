"""Developer and consumer repositories."""

from __future__ import annotations

import uuid
from typing import Generic, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.errors import execute_isolated, guarded
from adapters.sql.mapping import from_row, to_values
from adapters.sql.tables import consumers, developers
from tarsify.domain.models import Consumer, Developer

A = TypeVar("A", Developer, Consumer)


class _AccountRepository(Generic[A]):
    """Accounts keyed by id and by the identity provider's uid."""

    table: Table
    entity: type[A]

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _add(self, account: A) -> None:
        await execute_isolated(self._session, insert(self.table).values(to_values(account)))

    async def _get_where(self, column: str, value: object) -> A | None:
        stmt = select(self.table).where(self.table.c[column] == value)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else from_row(self.entity, row)


class SqlDeveloperRepository(_AccountRepository[Developer]):
    """Developers in the ``developers`` table."""

    table, entity = developers, Developer

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

    table, entity = consumers, Consumer

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
