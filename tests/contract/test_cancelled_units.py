"""A unit of work cut off anywhere (its task cancelled: a client gone, a shutdown) ends
cleanly on PostgreSQL: its exit does not fail, nothing is committed, the pool goes on."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from adapters.sql.db import Db, session_factory
from adapters.sql.engine import create_engine

pytestmark = pytest.mark.postgres
CUTS = 80


async def _insert_and_wait(db: Db, table: str) -> None:
    await db.execute(text("SELECT 1"))
    await db.execute(text(f"INSERT INTO {table} VALUES (1)"))
    await db.execute(text("SELECT pg_sleep(0.5)"))


async def test_a_cancelled_unit_of_work_closes_and_commits_nothing(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=2, max_overflow=0)
    source = session_factory(engine)
    table = f"cut_{uuid.uuid4().hex[:8]}"
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"CREATE TABLE {table} (n int)"))
        cut_midway = 0
        for i in range(CUTS):
            db = source()
            task = asyncio.create_task(_insert_and_wait(db, table))
            await asyncio.sleep(i * 0.0002)  # cut at a different point each time
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cut_midway += 1
            await db.close()  # never raises, whatever was cut
        assert cut_midway == CUTS  # the sleep outlasts every cut: each unit was cut
        async with engine.connect() as connection:
            left = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
        assert left == 0  # nothing was committed
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()
