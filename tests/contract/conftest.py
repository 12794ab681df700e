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
from adapters.sql.uow import SqlUnitOfWork
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.databases import empty_all, sqlite_url
from tests.contract.engine_world import BOTH, POSTGRES, Db, open_db
from tests.pg import migrated_postgres

__all__ = ["empty_all", "sqlite_url"]  # also imported from here

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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


# --- the engine's databases (tests/contract/engine_world.py) ---------------------------


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head for this module, dropped afterwards."""
    yield from migrated_postgres()


@pytest.fixture(params=BOTH)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL (this module's database) or a private copy of the migrated SQLite file."""
    if request.param == "postgres":
        return str(request.getfixturevalue("module_postgres_url"))
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "engine.db"
    shutil.copyfile(template, path)
    return sqlite_url(path)


@pytest.fixture(params=POSTGRES)
def pg_url(request: pytest.FixtureRequest) -> str:
    """This module's PostgreSQL database, for rules that need row locks or a server."""
    return str(request.getfixturevalue("module_postgres_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Db]:
    """The database of one test: PostgreSQL emptied first, or a fresh SQLite copy."""
    database = await open_db(db_url)
    yield database
    await database.release()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Db]:
    """Like ``db``, on PostgreSQL only."""
    database = await open_db(pg_url)
    yield database
    await database.release()
