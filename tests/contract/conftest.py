"""Backends for the contract suite: memory, SQLite (a migrated file) and PostgreSQL.

PostgreSQL gets one fresh, migrated database per test session, emptied before each test;
SQLite gets a copy of a database migrated once per session.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.uow import MemoryStore
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.tables import metadata
from adapters.sql.uow import SqlUnitOfWork
from tarsify.ports import UnitOfWorkFactory
from tests.pg import migrated_postgres

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file."""
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; tests copy it."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    asyncio.run(upgrade(sqlite_url(path)))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, dropped after the session."""
    yield from migrated_postgres()


async def empty_all(engine: AsyncEngine) -> None:
    """Empty every table, children first (on tiny tables DELETE beats TRUNCATE)."""
    async with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
async def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a private copy of the migrated SQLite database."""
    path = tmp_path / "tarsify.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(sqlite_url(path))
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's PostgreSQL database, emptied first."""
    engine = create_engine(postgres_url)
    await empty_all(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return str(request.param)


@pytest.fixture
def uow_factory(backend: str, request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """A factory of fresh units of work on the backend under test."""
    return factory_for(backend, request)


def factory_for(backend: str, request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """A unit of work factory on ``backend``, pulling in its engine fixture."""
    if backend == "memory":
        store = MemoryStore(lock_timeout=2.0)
        return store.unit_of_work
    engine: AsyncEngine = request.getfixturevalue(f"{backend}_engine")
    return partial(SqlUnitOfWork, session_factory(engine))


@pytest.fixture(params=BACKENDS[1:])
def sql_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """An engine on each SQL backend (SQLite, PostgreSQL)."""
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return engine
