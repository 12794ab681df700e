"""Migrations: stairway (upgrade, downgrade, upgrade) and agreement with the tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.sql.migrate import current, downgrade, upgrade
from adapters.sql.tables import metadata
from tests.contract.conftest import sqlite_url
from tests.pg import create_test_database, drop_test_database, require_postgres

TABLES = {table.name for table in metadata.sorted_tables}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a brand-new empty database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "stairway.db")
        return
    require_postgres()
    url = await create_test_database()
    try:
        yield url
    finally:
        await drop_test_database(url)


def _inspect(connection: Connection) -> tuple[set[str], list[Any]]:
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return tables, compare_metadata(context, metadata)


async def _state(url: str) -> tuple[set[str], list[Any]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_inspect)
    finally:
        await engine.dispose()


async def test_stairway(empty_database: str) -> None:
    url = empty_database
    assert await current(url) is None
    await upgrade(url)
    assert await current(url) == "0001_initial"
    tables, diff = await _state(url)
    assert tables == TABLES
    assert diff == []  # the migration builds exactly what adapters/sql/tables.py declares
    await downgrade(url, "base")
    assert await current(url) is None
    assert (await _state(url))[0] == set()
    await upgrade(url, "head")
    tables, diff = await _state(url)
    assert tables == TABLES and diff == []
