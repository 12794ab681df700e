"""No API key is ever stored in clear: every row of every table is scanned for it."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.memory.uow import MemoryStore, MemoryUnitOfWork
from adapters.sql.db import session_factory
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.api_keys import KeyHasher
from tarsify.ports.identity import Audience
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.api_keys import ApiKeyService
from tests.contract.factories import consumer


async def _every_row(engine: AsyncEngine) -> list[str]:
    """Every row of every table in the database (reflected, not just the known ones)."""
    tables = MetaData()
    async with engine.connect() as connection:
        await connection.run_sync(tables.reflect)
        rows = []
        for table in tables.sorted_tables:
            result = await connection.execute(select(table))
            rows += [repr(tuple(row)) for row in result]
    assert any("tsk_" in row for row in rows), "the scan must see the key's prefix row"
    return rows


async def _use_a_key(uow_factory: UnitOfWorkFactory) -> str:
    owner = consumer()
    async with uow_factory() as uow:
        await uow.consumers.add(owner)
        await uow.commit()
    service = ApiKeyService(uow_factory, SystemClock(), KeyHasher(b"k" * 32))
    created = await service.create(owner.id, "scan me")
    assert (await service.authenticate(created.secret, Audience.CONSUMERS)).uid == owner.uid
    return created.secret


@pytest.fixture
def storage(backend: str, request: pytest.FixtureRequest) -> MemoryStore | AsyncEngine:
    """The backend's store: a MemoryStore, or an engine on a migrated database."""
    if backend == "memory":
        return MemoryStore()
    engine: AsyncEngine = request.getfixturevalue(f"{backend}_engine")
    return engine


async def test_no_table_holds_a_key_in_clear(storage: MemoryStore | AsyncEngine) -> None:
    if isinstance(storage, MemoryStore):
        store = storage
        secret = await _use_a_key(lambda: MemoryUnitOfWork(store))
        rows = [repr(row) for table in store.tables.values() for row in table.values()]
    else:
        sessions = session_factory(storage)
        secret = await _use_a_key(lambda: SqlUnitOfWork(sessions))
        rows = await _every_row(storage)
    random_part = secret.removeprefix("tsk_")
    assert rows and not [row for row in rows if secret in row]
    # Not even a part of it beyond the displayed prefix (tsk_ and 8 characters).
    assert not [row for row in rows if random_part[:16] in row or random_part[-16:] in row]
