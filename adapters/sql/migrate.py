"""Run the Alembic migrations programmatically (``tarsify migrate``, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.sql.engine import async_url, driver_options

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str, *, pooled: bool = False) -> Config:
    """An Alembic config for ``url`` that leaves the caller's logging alone (``pooled``:
    the URL is a transaction pooler's, see ``engine.driver_options``)."""
    config = Config(attributes={"url": url, "configure_logger": False, "pooled": pooled})
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(url: str, revision: str = "head", *, pooled: bool = False) -> None:
    """Upgrade the database at ``url`` to ``revision``.

    Alembic's async env starts its own event loop, so it runs in a worker thread.
    """
    await asyncio.to_thread(command.upgrade, alembic_config(url, pooled=pooled), revision)


async def downgrade(url: str, revision: str, *, pooled: bool = False) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"`` drops everything)."""
    await asyncio.to_thread(command.downgrade, alembic_config(url, pooled=pooled), revision)


def migration_engine(url: str, *, pooled: bool = False) -> AsyncEngine:
    """An engine without a pool for one migration or look (``pooled``: through a
    transaction pooler)."""
    url = async_url(url)
    if not pooled or make_url(url).get_driver_name() != "asyncpg":
        return create_async_engine(url, poolclass=NullPool)
    return create_async_engine(url, poolclass=NullPool, connect_args=driver_options(pooled=True))


async def current(url: str, *, pooled: bool = False) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = migration_engine(url, pooled=pooled)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def head() -> str | None:
    """The newest revision of the migrations shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
