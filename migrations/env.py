"""Alembic environment: async engine, URL from the caller or ``DATABASE_URL``."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from adapters.sql.engine import async_url
from adapters.sql.migrate import migration_engine
from adapters.sql.tables import metadata

DEFAULT_URL = "sqlite+aiosqlite:///./tarsify.db"

config = context.config

# Only the alembic command line configures logging; programmatic callers keep theirs.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The URL given programmatically, else ``DATABASE_URL``, else the SQLite default."""
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return async_url(str(url or os.environ.get("DATABASE_URL") or DEFAULT_URL))


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else database_url(),
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    _configure()
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _pooled() -> bool:
    """Through a transaction pooler: given programmatically, else ``DATABASE_POOLER``."""
    given = config.attributes.get("pooled")
    if given is not None:
        return bool(given)
    return os.environ.get("DATABASE_POOLER", "").strip().lower() == "transaction"


async def _run_async() -> None:
    engine = migration_engine(database_url(), pooled=_pooled())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Run against the database, on a connection handed in or a fresh async engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
