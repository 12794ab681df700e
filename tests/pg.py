"""Throwaway PostgreSQL databases for tests and benchmarks.

The server is ``TARSIFY_TEST_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
Tests that need it fail when it is down, unless ``TARSIFY_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ADMIN_DSN = os.environ.get("TARSIFY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def skip_postgres() -> bool:
    """True when the environment asks to skip PostgreSQL tests."""
    return os.environ.get("TARSIFY_SKIP_POSTGRES") == "1"


def postgres_available(timeout: float = 1.0) -> bool:
    """True when something accepts connections at the test server's address."""
    url = make_url(ADMIN_DSN)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip when asked to, otherwise fail loudly when the server is unreachable."""
    if skip_postgres():
        pytest.skip("TARSIFY_SKIP_POSTGRES=1")
    if not postgres_available():
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(ADMIN_DSN).render_as_string()}; "
            "start it or set TARSIFY_SKIP_POSTGRES=1"
        )


async def create_test_database() -> str:
    """Create an empty ``tarsify_test_<hex>`` database; returns its asyncpg SQLAlchemy URL."""
    name = f"tarsify_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_test_database(url: str) -> None:
    """Disconnect everyone from the database made by ``create_test_database`` and drop it."""
    name = make_url(url).database
    if not name or not name.startswith("tarsify_test_"):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await connection.close()


def migrated_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, dropped when the generator ends.

    Meant as the body of a pytest fixture of any scope: ``yield from migrated_postgres()``.
    """
    from adapters.sql.migrate import upgrade

    require_postgres()
    url = asyncio.run(create_test_database())
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(drop_test_database(url))
