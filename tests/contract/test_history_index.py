"""The consumer history query is served by its composite index on a realistic table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.sql.engine import create_engine
from adapters.sql.executions import claim_due_query
from adapters.sql.explain import explain, plan_nodes, scans_of
from adapters.sql.history import consumer_history_query
from adapters.sql.migrate import upgrade
from bench.history_data import History, load_history
from tarsify.domain.pagination import PageRequest
from tests.pg import create_test_database, drop_test_database, require_postgres

pytestmark = pytest.mark.postgres

ROWS = 20_000
INDEX = "ix_executions_consumer_created"


async def _create_loaded() -> tuple[str, History]:
    url = await create_test_database()
    try:
        await upgrade(url)
        return url, await load_history(url, ROWS, consumers=4)
    except BaseException:
        await drop_test_database(url)
        raise


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[str, History]]:
    """A fresh migrated database holding ``ROWS`` executions (shared by this module)."""
    require_postgres()
    url, history = asyncio.run(_create_loaded())
    try:
        yield url, history
    finally:
        asyncio.run(drop_test_database(url))


async def test_history_pages_use_the_composite_index(loaded: tuple[str, History]) -> None:
    url, history = loaded
    consumer = history.consumer_ids[0]
    first = PageRequest(limit=20)
    deep = PageRequest(limit=20, after=history.cursor(consumer, 3_000))
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            for page in (first, deep):
                plan = await explain(connection, consumer_history_query(consumer, page))
                scans = scans_of(plan, "executions")
                assert scans == [("Index Scan", INDEX)], json.dumps(plan, indent=1)
                assert plan["Plan"]["Actual Rows"] == 21  # limit + 1, nothing sorted
                (scan,) = [n for n in plan_nodes(plan) if n.get("Index Name") == INDEX]
                assert "Filter" not in scan  # the keyset is part of the index condition
                if page.after is not None:
                    assert "ROW(created_at, id) <" in scan["Index Cond"]
    finally:
        await engine.dispose()


async def test_reconciler_claims_use_the_partial_index(loaded: tuple[str, History]) -> None:
    url, _ = loaded
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            plan = await explain(connection, claim_due_query(datetime.now(UTC), 50))
            await connection.rollback()  # EXPLAIN ANALYZE took the row locks
    finally:
        await engine.dispose()
    assert scans_of(plan, "executions") == [("Index Scan", "ix_executions_active_created")]
