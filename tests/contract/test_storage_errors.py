"""Contract: storage failures surface as ``StorageError`` only, without SQL text."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.uow import MemoryHealthCheck, MemoryStore, MemoryUnitOfWork
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlHealthCheck, SqlUnitOfWork
from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import developer

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/tarsify"
SQL_WORDS = ("SELECT", "INSERT", "UPDATE", "FROM", "executions", "developers")


def _no_sql(error: StorageError) -> None:
    text = f"{error} {error.message} {error.details}"
    assert not any(word in text for word in SQL_WORDS), text


async def test_unreachable_postgres_raises_storage_error_quickly() -> None:
    engine = create_engine(UNREACHABLE)
    started = time.monotonic()
    try:
        with pytest.raises(StorageError) as info:
            async with SqlUnitOfWork(session_factory(engine)) as uow:
                await uow.developers.get_by_uid("x")
        _no_sql(info.value)
        assert type(info.value) is StorageError
        with pytest.raises(StorageError) as ping:
            await SqlHealthCheck(engine).ping()
        _no_sql(ping.value)
        with pytest.raises(StorageError):
            async with SqlUnitOfWork(session_factory(engine)) as uow:
                await uow.developers.add(developer())
                await uow.commit()
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 5


async def test_health_check_answers(sql_engine: AsyncEngine) -> None:
    await SqlHealthCheck(sql_engine).ping()


async def test_constraint_errors_do_not_leak_sql(uow_factory: UnitOfWorkFactory) -> None:
    bad = developer()
    bad.created_at = bad.created_at.replace(tzinfo=None)  # naive: refused by every backend
    async with uow_factory() as uow:
        with pytest.raises(StorageError) as info:
            await uow.developers.add(bad)
    _no_sql(info.value)


async def test_memory_store_can_be_switched_down() -> None:
    store = MemoryStore()
    health = MemoryHealthCheck(store)
    await health.ping()
    dev = developer()
    async with MemoryUnitOfWork(store) as uow:
        await uow.developers.add(dev)
        await uow.commit()
    store.down = True
    with pytest.raises(StorageError):
        await health.ping()
    async with MemoryUnitOfWork(store) as uow:
        with pytest.raises(StorageError):
            await uow.developers.get(dev.id)
        with pytest.raises(StorageError):
            await uow.commit()
    store.down = False
    store.fail_commits = True
    async with MemoryUnitOfWork(store) as uow:
        await uow.developers.add(developer())
        with pytest.raises(StorageError):
            await uow.commit()
    assert store.commits == 1
    standalone = MemoryHealthCheck()
    standalone.down = True
    with pytest.raises(StorageError):
        await standalone.ping()


async def test_failing_statement_log_names_no_parameter_value(
    sql_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement the database refuses is logged without the values it carried."""
    secret = "secret-value-7d1f@example.com"
    caplog.set_level(logging.INFO, logger="tarsify.storage")
    async with SqlUnitOfWork(session_factory(sql_engine)) as uow:
        await uow.developers.add(developer(uid="dupe-uid", email=secret))
        await uow.commit()
    async with SqlUnitOfWork(session_factory(sql_engine)) as uow:
        with pytest.raises(AlreadyExists):
            await uow.developers.add(developer(uid="dupe-uid", email=secret))
            await uow.commit()
    bad = developer(email=secret)
    bad.created_at = bad.created_at.replace(tzinfo=None)  # refused while binding
    async with SqlUnitOfWork(session_factory(sql_engine)) as uow:
        with pytest.raises(StorageError):
            await uow.developers.add(bad)
    async with sql_engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    records = [r for r in caplog.records if r.name == "tarsify.storage"]
    assert len(records) >= 2
    for record in records:
        logged = record.getMessage() + str(record.exc_info or "") + str(record.exc_text or "")
        assert secret not in logged and "dupe-uid" not in logged, logged
