"""Time a model's figures (``GET /api/developer/tars-models/{id}/stats``) on PostgreSQL
for a model with a large history, and show how the database reads it.

Run from the project root: ``.venv/bin/python -m bench.studio_stats [--runs N]``.
Needs the PostgreSQL server of ``tests/pg.py`` (``TARSIFY_TEST_PG_DSN``). It seeds one
developer's model with ``--runs`` consumer runs spread over ``--spread`` days (80 %
completed, each with its EARNING ledger entry; 15 % failed; the rest cancelled, timed out
or unfinished), plus a second model and some test runs that must not count, then times
``SqlStudioFigures`` for several windows and prints the plans of the runs' aggregate and
of the earnings per day.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from sqlalchemy import text

from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.stats import SqlStudioFigures
from tarsify.domain.figures import Window
from tests.pg import create_test_database, drop_test_database

INDEX = "ix_executions_model_figures"
EARNINGS_INDEX = "ix_ledger_entries_model_type_created"

_SEED = """
INSERT INTO developers (id, uid, email) VALUES (:dev, 'bench-dev', 'd@bench.example');
INSERT INTO consumers (id, uid, email) VALUES (:con, 'bench-con', 'c@bench.example');
INSERT INTO runpod_endpoints (id, runpod_endpoint_id, name, gpu_type)
VALUES (:ep, 'bench-ep', 'Bench', 'A100');
INSERT INTO base_models (id, endpoint_id, slug, name, category, input_schema, output_type,
                         output_format)
VALUES (:base, :ep, 'bench-base', 'Bench', 'IMAGE', '{"type": "object"}', 'IMAGE', 'png');
INSERT INTO tars_models (id, developer_id, base_model_id, slug, title, status)
VALUES (:model, :dev, :base, 'bench-model', 'Bench', 'PUBLISHED'),
       (:other, :dev, :base, 'bench-other', 'Other', 'PUBLISHED');
"""

# n -> a run: spread evenly over the last ``spread`` days, its outcome by n mod 20.
_RUNS = """
INSERT INTO executions (id, consumer_id, tars_model_id, endpoint_id, status, created_at,
                        updated_at, queue_time_ms, execution_time_ms, price)
SELECT md5(:salt || n)::uuid, :con, :model, :ep,
       (CASE WHEN n % 20 < 16 THEN 'COMPLETED' WHEN n % 20 < 19 THEN 'FAILED'
             WHEN n % 40 = 19 THEN 'CANCELLED' ELSE 'TIMED_OUT' END),
       now() - (n::bigint * :spread * 86400 / :runs) * interval '1 second',
       now(), 200 + (n::bigint * 7919) % 5000, 1000 + (n::bigint * 104729) % 20000, 10
FROM generate_series(1, :runs) AS n
"""
_EARNINGS = """
INSERT INTO ledger_entries (id, account_type, account_id, type, amount, execution_id,
                            tars_model_id, created_at)
SELECT gen_random_uuid(), 'DEVELOPER', :dev, 'EARNING', 8, id, tars_model_id, created_at
FROM executions WHERE tars_model_id = :model AND status = 'COMPLETED'
"""
_NOISE = """
INSERT INTO executions (id, consumer_id, tars_model_id, endpoint_id, status, created_at,
                        updated_at, price)
SELECT gen_random_uuid(), CASE WHEN n % 2 = 0 THEN NULL ELSE CAST(:con AS uuid) END,
       CASE WHEN n % 2 = 0 THEN CAST(:model AS uuid) ELSE CAST(:other AS uuid) END, :ep,
       'COMPLETED', now(), now(), 0
FROM generate_series(1, :noise) AS n
"""
SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "jit",
)


async def _seed(url: str, runs: int, spread: int) -> dict[str, uuid.UUID]:
    ids = {k: uuid.uuid4() for k in ("dev", "con", "ep", "base", "model", "other")}
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in _SEED.strip().split(";\n"):
                await connection.execute(text(statement), ids)
            salt = {"salt": uuid.uuid4().hex, "runs": runs, "spread": spread}
            await connection.execute(text(_RUNS), ids | salt)
            await connection.execute(text(_EARNINGS), ids)
            await connection.execute(text(_NOISE), ids | {"noise": max(runs // 100, 10)})
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE executions"))
            await connection.execute(text("VACUUM ANALYZE ledger_entries"))
    finally:
        await engine.dispose()
    return ids


async def _settings(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            for name in SETTINGS:
                value = await connection.scalar(text(f"SHOW {name}"))
                print(f"  {name} = {value}")
    finally:
        await engine.dispose()


RUNS_PLAN = (
    "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*), "
    "count(*) FILTER (WHERE status = 'COMPLETED'), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY queue_time_ms), "
    "percentile_cont(0.9) WITHIN GROUP (ORDER BY execution_time_ms) "
    "FROM executions WHERE consumer_id IS NOT NULL AND tars_model_id = :m "
    "AND created_at >= :s"
)
EARNINGS_PLAN = (
    "EXPLAIN (ANALYZE, BUFFERS) SELECT date(timezone('UTC', created_at)) AS day, "
    "sum(amount) FROM ledger_entries WHERE tars_model_id = :m AND type = 'EARNING' "
    "AND created_at >= :s GROUP BY day"
)


async def _plan(url: str, sql: str, model: uuid.UUID, since: datetime) -> str:
    query = text(sql)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(query, {"m": model, "s": since})).all()
    finally:
        await engine.dispose()
    return "\n".join(f"    {row[0]}" for row in rows)


async def run(runs: int, spread: int, repeat: int) -> bool:
    """Seed, time each window, print the plans; True when the indexes serve them."""
    url = await create_test_database()
    try:
        await upgrade(url)
        print("PostgreSQL settings:")
        await _settings(url)
        started = time.perf_counter()
        ids = await _seed(url, runs, spread)
        print(f"seeded {runs} runs over {spread} days in {time.perf_counter() - started:.1f}s")
        engine = create_engine(url)
        figures = SqlStudioFigures(engine)
        try:
            for days in (1, 7, 30, 365):
                window = Window.ending(datetime.now(UTC), days)
                times, found = [], None
                for _ in range(repeat):
                    began = time.perf_counter()
                    found = await figures.model_figures(ids["model"], window.since)
                    times.append((time.perf_counter() - began) * 1000)
                assert found is not None
                print(
                    f"days={days:>3}: {found.runs:>8} runs in window, "
                    f"median {statistics.median(times):8.1f} ms, best {min(times):8.1f} ms "
                    f"(of {repeat}); earnings {found.earnings}"
                )
            began = time.perf_counter()
            overall = await figures.developer_figures(
                ids["dev"], Window.ending(datetime.now(UTC), 30).since
            )
            took = (time.perf_counter() - began) * 1000
            print(f"developer, days=30: {overall.totals.runs} runs, {took:.1f} ms")
        finally:
            await engine.dispose()
        since = Window.ending(datetime.now(UTC), 30).since
        plan = await _plan(url, RUNS_PLAN, ids["model"], since)
        print("plan of the runs' aggregate, days=30:\n" + plan)
        served = INDEX in plan
        for days in (30, 365):
            since = Window.ending(datetime.now(UTC), days).since
            earned = await _plan(url, EARNINGS_PLAN, ids["model"], since)
            print(f"plan of the earnings per day, days={days}:\n" + earned)
            # Over a year this model's entries are most of the table: a sequential scan
            # may then be cheaper, so only the 30 days' plan must use the index.
            served = served and (days != 30 or EARNINGS_INDEX in earned)
        return served
    finally:
        await drop_test_database(url)


def main() -> None:
    """Parse the arguments and run; exit 1 when the indexes do not serve the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--spread", type=int, default=365, help="days the runs span")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not asyncio.run(run(args.runs, args.spread, args.repeat)):
        print(f"{INDEX} or {EARNINGS_INDEX} was not used")
        sys.exit(1)


if __name__ == "__main__":
    main()
