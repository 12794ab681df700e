"""Migrations: stairway (upgrade, downgrade, upgrade) and agreement with the tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Uuid, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.sql.db import session_factory
from adapters.sql.migrate import current, downgrade, upgrade
from adapters.sql.tables import ledger_entries, metadata
from adapters.sql.types import UtcDateTime
from adapters.sql.uow import SqlUnitOfWork
from tests.contract.conftest import sqlite_url
from tests.contract.factories import T0, seed_catalog
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


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    from adapters.sql.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def test_stairway(empty_database: str) -> None:
    url = empty_database
    revisions = _revisions()
    assert revisions[0] == "0001_initial" and len(revisions) >= 2
    assert await current(url) is None
    # Each step goes up, down and up again: every downgrade really undoes its upgrade.
    previous: str | None = None
    for revision in revisions:
        await upgrade(url, revision)
        assert await current(url) == revision
        await downgrade(url, previous or "base")
        assert await current(url) == previous
        await upgrade(url, revision)
        previous = revision
    tables, diff = await _state(url)
    assert tables == TABLES
    assert diff == []  # the migrations build exactly what adapters/sql/tables/ declares
    await downgrade(url, "base")
    assert await current(url) is None
    assert (await _state(url))[0] == set()
    await upgrade(url, "head")
    assert await current(url) == revisions[-1]
    tables, diff = await _state(url)
    assert tables == TABLES and diff == []


async def test_ledger_entries_get_their_executions_model(empty_database: str) -> None:
    """0017 fills in the model of the entries written before it, and the ledger stays
    append-only."""
    url = empty_database
    await upgrade(url, "0016_stream_chunks")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        uow_factory = partial(SqlUnitOfWork, session_factory(engine))
        cat = await seed_catalog(uow_factory)
        run = cat.execution(price=5)
        # The execution as 0016 stores it: only columns it had (the table grew since).
        old_run = sa.table(
            "executions",
            *(sa.column(name, Uuid()) for name in ("id", "tars_model_id", "endpoint_id")),
            sa.column("consumer_id", Uuid()),
            sa.column("price"),
        )
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(old_run).values(
                    id=run.id,
                    tars_model_id=run.tars_model_id,
                    endpoint_id=run.endpoint_id,
                    consumer_id=run.consumer_id,
                    price=5,
                )
            )
        held, granted = uuid.uuid4(), uuid.uuid4()
        old = sa.table(
            "ledger_entries",
            *(sa.column(name, Uuid()) for name in ("id", "account_id", "execution_id")),
            sa.column("account_type"),
            sa.column("type"),
            sa.column("amount"),
            sa.column("created_at", UtcDateTime()),
        )
        entries = [
            (granted, "GRANT", 5, None),
            (held, "HOLD", -5, run.id),
        ]
        async with engine.begin() as connection:
            for entry_id, kind, amount, execution_id in entries:
                values = dict(id=entry_id, account_id=cat.consumer.id, account_type="CONSUMER")
                values |= dict(type=kind, amount=amount, execution_id=execution_id, created_at=T0)
                await connection.execute(sa.insert(old).values(**values))
    finally:
        await engine.dispose()
    await upgrade(url, "0017_ledger_model")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        e = ledger_entries.c
        async with engine.connect() as connection:
            named = dict((await connection.execute(sa.select(e.id, e.tars_model_id))).all())
            assert named == {held: run.tars_model_id, granted: None}
            with pytest.raises(DBAPIError):
                await connection.execute(sa.update(ledger_entries).values(tars_model_id=None))
    finally:
        await engine.dispose()
