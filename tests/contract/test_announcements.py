"""PostgreSQL announces an execution's change (NOTIFY) when its consumer can see it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.feed import CHANNEL, SHOWN_COLUMNS, listen_dsn
from adapters.sql.mapping import column_of
from adapters.sql.uow import SqlUnitOfWork
from entrypoints.http.schemas_executions import execution_document
from tarsify.domain.execution import SET_AT_CREATION, Execution
from tarsify.domain.models import ExecutionStatus
from tests.contract.factories import add_executions, seed_catalog
from tests.pg import migrated_postgres

MIGRATION = Path(__file__).parents[2] / "migrations/versions/0019_job_logs.py"


def test_the_migration_and_the_feed_name_the_same_columns() -> None:
    text = MIGRATION.read_text()
    for column in SHOWN_COLUMNS:
        assert f'"{column}"' in text


def test_every_field_the_document_shows_that_can_change_is_watched() -> None:
    source = inspect.getsource(execution_document)
    fixed = {"id", *SET_AT_CREATION}
    shown = {
        name
        for name in Execution.__dataclass_fields__
        if f"e.{name}" in source and name not in fixed and name != "price"
    }
    assert {column_of(Execution, name) for name in shown} <= set(SHOWN_COLUMNS)


@pytest.fixture(scope="module")
def notify_pg_url() -> Iterator[str]:
    yield from migrated_postgres()


@pytest.mark.postgres
async def test_a_claim_is_not_announced_a_status_change_is(notify_pg_url: str) -> None:
    engine = create_engine(notify_pg_url)
    source = session_factory(engine)
    uow_factory = lambda **kw: SqlUnitOfWork(source, **kw)  # noqa: E731
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    await add_executions(uow_factory, execution)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(listen_dsn(notify_pg_url))
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))

    async def store(change: dict[str, object]) -> None:
        async with uow_factory() as uow:
            current = await uow.executions.get(execution.id)
            assert current is not None
            for name, value in change.items():
                setattr(current, name, value)
            assert await uow.executions.update(current)
            await uow.commit()

    try:
        await store({"submit_attempts": 1, "provider_endpoint_id": "rp-x"})  # the claim
        await store({"status": ExecutionStatus.QUEUED, "provider_job_id": "job-1"})
        announced = await asyncio.wait_for(heard.get(), 5)
        assert announced == f"{execution.id}:3"  # version 2 (the claim) was not announced
        await store({"last_polled_at": None, "wake_at": None})  # nothing shown changes
        await store({"error_message": "worker said no"})
        assert await asyncio.wait_for(heard.get(), 5) == f"{execution.id}:5"
        assert heard.empty()
    finally:
        await listener.close()
        await engine.dispose()
