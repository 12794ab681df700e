"""Plans on PostgreSQL that must hold for every consumer: prepared statements get one plan
for every consumer, made from the average (or from statistics of another moment): the
history page of a consumer with far more executions than the average, and the count of
a consumer's unfinished executions during a burst of runs."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import asyncpg

from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.history import consumer_history_query
from adapters.sql.stats import SqlStudioFigures
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.pagination import Cursor, PageRequest
from tests.contract.factories import T0, consumer, published, seed_catalog
from tests.pg import migrated_postgres

pytestmark = pytest.mark.postgres

HEAVY_ROWS = 1000
LIGHT_CONSUMERS = 4000
LIGHT_ROWS = 15  # each: the heavy consumer has about 65 times as many
MODELS = 40  # the rows name several models: a join could reorder them


@pytest.fixture(scope="module")
def plans_pg_url() -> Iterator[str]:
    yield from migrated_postgres()


_SEEDED: dict[str, uuid.UUID] = {}


async def _skewed(url: str) -> uuid.UUID:
    """One consumer with HEAVY_ROWS executions among LIGHT_CONSUMERS with LIGHT_ROWS each,
    stored in random order (as runs of many consumers interleave); made once per
    database."""
    if url in _SEEDED:
        return _SEEDED[url]
    engine = create_engine(url)
    source = session_factory(engine)
    cat = await seed_catalog(lambda **kw: SqlUnitOfWork(source, **kw))
    models = [cat.tars_model] + [
        published(cat.developer.id, cat.base_model.id, T0) for _ in range(MODELS - 1)
    ]
    async with SqlUnitOfWork(source) as uow:
        for extra in models[1:]:
            await uow.tars_models.add(extra)
        await uow.commit()
    lights = [consumer() for _ in range(LIGHT_CONSUMERS)]
    owners = [cat.consumer.id] * HEAVY_ROWS + [c.id for c in lights for _ in range(LIGHT_ROWS)]
    random.Random(7).shuffle(owners)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    endpoint = cat.endpoint.id
    output = '{"text": "' + "x" * 300 + '"}'
    pick = random.Random(8)
    records = [
        (uuid.uuid4(), owner, pick.choice(models).id, endpoint, "COMPLETED", output, at, at)
        for owner, at in ((o, start + timedelta(seconds=i)) for i, o in enumerate(owners))
    ]
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(
            "consumers",
            records=[(c.id, c.uid, c.email, T0, T0) for c in lights],
            columns=["id", "uid", "email", "created_at", "updated_at"],
        )
        await raw.copy_records_to_table(
            "executions",
            records=records,
            columns=[
                "id", "consumer_id", "tars_model_id", "endpoint_id", "status",
                "output_payload", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await raw.execute("ANALYZE")
    await engine.dispose()
    _SEEDED[url] = cat.consumer.id
    return cat.consumer.id


async def _generic_plan(raw: Any, name: str, sql: str, arguments: str) -> list[str]:
    """The executed plan of ``sql`` prepared as ``name`` with its one plan for every
    value, as PostgreSQL comes to use for a prepared statement after a few runs."""
    await raw.execute("SET plan_cache_mode = force_generic_plan")
    await raw.execute(f"PREPARE {name} AS {sql}")
    explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
    return [r[0] for r in await raw.fetch(f"{explain}EXECUTE {name}({arguments})")]


def _literal(value: object) -> str:
    return f"'{value.isoformat() if isinstance(value, datetime) else value}'"


@pytest.mark.parametrize("random_page_cost", [None, "1.1", "4"])
@pytest.mark.parametrize("after", [False, True])
async def test_a_heavy_consumers_page_reads_only_the_page(
    plans_pg_url: str, after: bool, random_page_cost: str | None
) -> None:
    """With the sessions' settings (``SESSION``), whatever the cost of random reads."""
    heavy = await _skewed(plans_pg_url)
    cursor = Cursor(datetime(2026, 1, 1, 4, tzinfo=UTC), uuid.UUID(int=0))
    page = PageRequest(20, after=cursor if after else None)
    compiled = consumer_history_query(heavy, page).compile(dialect=asyncpg.dialect())
    sql, names = str(compiled), list(compiled.positiontup or [])
    arguments = ", ".join(_literal(compiled.params[name]) for name in names)
    engine = create_engine(plans_pg_url)  # the service's sessions, with their settings
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            if random_page_cost is not None:
                await raw.execute(f"SET random_page_cost = {random_page_cost}")
            lines = await _generic_plan(raw, "history", sql, arguments)
    finally:
        await engine.dispose()
    described = "\n".join(lines)
    # The page is read in order from the consumer's index and stops after it: the
    # consumer's whole history is never read (nor sorted).
    [scan] = [line for line in lines if "ix_executions_consumer_created" in line]
    assert "Index Scan using ix_executions_consumer_created" in scan, described
    assert "rows=21 " in scan + " ", described


async def test_only_the_history_index_covers_every_execution_by_consumer(
    plans_pg_url: str,
) -> None:
    """Any other index led by consumer_id over every row (such as a unique constraint on
    (consumer_id, idempotency_key)) is smaller, and a plan made from the average
    consumer may read a heavy consumer's whole history through it to sort it."""
    engine = create_engine(plans_pg_url)
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            rows = await raw.fetch(
                """SELECT i.relname AS name, x.indpred IS NOT NULL AS partial
                FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_class t ON t.oid = x.indrelid
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
                WHERE t.relname = 'executions' AND a.attname = 'consumer_id'"""
            )
    finally:
        await engine.dispose()
    full = sorted(r["name"] for r in rows if not r["partial"])
    assert full == ["ix_executions_consumer_created"]
    assert "ux_executions_consumer_idempotency_key" in {r["name"] for r in rows}


ACTIVE_ELSEWHERE = 3000


async def test_the_active_count_reads_only_the_consumers_unfinished_executions(
    plans_pg_url: str,
) -> None:
    """The count every run makes (``consumer_active_executions``, migration 0009) reads
    the consumer's own unfinished executions, however many other consumers have: its
    one plan for every consumer once read all of them."""
    heavy = await _skewed(plans_pg_url)
    engine = create_engine(plans_pg_url)
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            others = "SELECT id FROM consumers WHERE id <> $1 LIMIT 500"
            owners = [r[0] for r in await raw.fetch(others, heavy)]
            model, endpoint = await raw.fetchrow(
                "SELECT tars_model_id, endpoint_id FROM executions LIMIT 1"
            )
            at = datetime(2026, 6, 1, tzinfo=UTC)
            records = [
                (uuid.uuid4(), owners[i % len(owners)], model, endpoint, "QUEUED", at, at)
                for i in range(ACTIVE_ELSEWHERE)
            ]
            columns = ["id", "consumer_id", "tars_model_id", "endpoint_id", "status"]
            # Statistics from a quiet moment (no unfinished execution), then a burst of
            # runs: the plan made from those statistics must hold up.
            await raw.execute("ANALYZE executions")
            await raw.copy_records_to_table(
                "executions", records=records, columns=[*columns, "created_at", "updated_at"]
            )
            source = await raw.fetchval(
                "SELECT prosrc FROM pg_proc WHERE proname = 'consumer_active_executions'"
            )
            count = source[source.index("(SELECT count") + 1 : source.rindex(");")]
            statement = count.replace("= consumer ", "= $1::uuid ")
            lines = await _generic_plan(raw, "active", statement, f"'{heavy}'")
    finally:
        await engine.dispose()
    described = "\n".join(lines)
    assert "ix_executions_consumer_active" in described, described
    [scan] = [line for line in lines if "Scan" in line]
    assert "rows=0 " in scan + " ", described  # the heavy consumer has none unfinished
    assert "Rows Removed by Filter" not in described, described


EARNING_MODELS = 20
EARNINGS_EACH = 500


async def test_a_models_earnings_are_read_from_the_ledger_index_alone(plans_pg_url: str) -> None:
    """The earnings per day of ``model_figures`` read the model's EARNING entries of the
    window from ``ix_ledger_entries_model_type_created`` (no execution joined, no heap)."""
    engine = create_engine(plans_pg_url)
    source = session_factory(engine)
    cat = await seed_catalog(lambda **kw: SqlUnitOfWork(source, **kw))
    models = [cat.tars_model] + [
        published(cat.developer.id, cat.base_model.id, T0) for _ in range(EARNING_MODELS - 1)
    ]
    sent: list[tuple[str, Any]] = []

    def _sent(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if "ledger_entries" in statement:
            sent.append((statement, params))

    try:
        async with SqlUnitOfWork(source) as uow:
            for extra in models[1:]:
                await uow.tars_models.add(extra)
            await uow.commit()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        records = [
            (uuid.uuid4(), "DEVELOPER", cat.developer.id, "EARNING", 8, model.id, at)
            for i, model in enumerate(models * EARNINGS_EACH)
            for at in [start + timedelta(minutes=i)]
        ]
        columns = ["id", "account_type", "account_id", "type", "amount", "tars_model_id"]
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(
                "ledger_entries", records=records, columns=[*columns, "created_at"]
            )
            await raw.execute("VACUUM ANALYZE ledger_entries")
        event.listen(engine.sync_engine, "before_cursor_execute", _sent)
        figures = await SqlStudioFigures(engine).model_figures(cat.tars_model.id, start)
        event.remove(engine.sync_engine, "before_cursor_execute", _sent)
        assert figures.earnings == 8 * EARNINGS_EACH
        [(statement, params)] = sent
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
            lines = [r[0] for r in await raw.fetch(explain + statement, *params)]
    finally:
        await engine.dispose()
    described = "\n".join(lines)
    assert "Index Only Scan using ix_ledger_entries_model_type_created" in described, described
    assert "executions" not in described and "Heap Fetches: 0" in described, described
