"""Flat at scale: the same pages on a small and on a large database.

``.venv/bin/python -m bench.scale`` (see bench/README.md) starts two stacks like
``bench.run`` does (database, fake RunPod, service): a small one (1,000 executions, 100 of
them the measured consumer's, 40 published models made through the API) and a large one
(1,000,000 executions, 100,000 the measured consumer's, and 50,000 more published
models, loaded with COPY). It times, one request at a time (wrk -c1), the consumer's first
history page, a page deep in the history (cursor at 3/4 of it), the first marketplace
page and a deep marketplace page, alternating small and large so that load from outside
hits both alike, and reports the median p50 of each, large/small (target <= 1.5) and the
EXPLAIN ANALYZE time of each query.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from adapters.sql.engine import create_engine
from adapters.sql.explain import explain
from adapters.sql.history import consumer_history_query
from adapters.sql.mapping import keyset_template
from bench import dataset
from bench.stack import JWT_SECRET, Stack, StackOptions
from bench.wrk import Request, require_wrk, run_wrk
from tarsify.domain.pagination import Cursor, PageRequest

TARGET = 1.5


@dataclass(slots=True)
class Page:
    """One page to time: its path and the statement to explain."""

    name: str
    path: str
    statement: Any
    auth: bool


@dataclass(slots=True)
class Timing:
    """p50/p99 over HTTP and the database's own time for one page."""

    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    sql_ms: float


async def _history_keys(dsn: str, consumer: uuid.UUID) -> list[tuple[Any, uuid.UUID]]:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT created_at, id FROM executions WHERE consumer_id = $1 "
            "ORDER BY created_at DESC, id DESC",
            consumer,
        )
    finally:
        await connection.close()
    return [(r["created_at"], r["id"]) for r in rows]


async def _published_keys(dsn: str) -> list[tuple[Any, uuid.UUID]]:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT published_at, id FROM tars_models WHERE status = 'PUBLISHED' "
            "ORDER BY published_at DESC, id DESC"
        )
    finally:
        await connection.close()
    return [(r["published_at"], r["id"]) for r in rows]


def _marketplace_statement(after: Cursor | None) -> Any:
    from adapters.sql.studio import _PUBLISHED
    from adapters.sql.tables import tars_models

    stmt = keyset_template(
        _PUBLISHED, tars_models.c.published_at, tars_models.c.id, after=after is not None, limit=21
    )
    params: dict[str, Any] = {}
    if after is not None:
        params |= {"after_at": after.at, "after_id": after.id}
    return stmt.params(params)


async def pages(stack: Stack, catalog: dataset.Catalog) -> list[Page]:
    """First and deep (3/4) pages of the measured history and of the marketplace."""
    consumer = catalog.consumers["history"]
    history = await _history_keys(stack.dsn, consumer)
    market = await _published_keys(stack.dsn)
    h_at, h_id = history[len(history) * 3 // 4]
    m_at, m_id = market[len(market) * 3 // 4]
    h_cursor, m_cursor = Cursor(h_at, h_id), Cursor(m_at, m_id)
    return [
        Page(
            "history first page",
            "/api/consumer/executions",
            consumer_history_query(consumer, PageRequest()),
            True,
        ),
        Page(
            f"history page after row {len(history) * 3 // 4:,}",
            f"/api/consumer/executions?cursor={h_cursor.encode()}",
            consumer_history_query(consumer, PageRequest(after=h_cursor)),
            True,
        ),
        Page(
            "marketplace first page",
            "/api/marketplace/models",
            _marketplace_statement(None),
            False,
        ),
        Page(
            f"marketplace page after model {len(market) * 3 // 4:,}",
            f"/api/marketplace/models?cursor={m_cursor.encode()}",
            _marketplace_statement(m_cursor),
            False,
        ),
    ]  # fmt: skip


async def _sql_ms(url: str, statement: Any, repeat: int = 5) -> float:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            times = [
                (await explain(connection, statement))["Execution Time"] for _ in range(repeat)
            ]
    finally:
        await engine.dispose()
    return sorted(times)[len(times) // 2]


def time_page(stack: Stack, page: Page, token: str, args: argparse.Namespace) -> Timing:
    """p50 of one page, one request at a time (wrk -c1), after a warm-up."""
    headers = {"Authorization": f"Bearer {token}"} if page.auth else {}
    request = Request(page.path, headers=headers)
    common = {"connections": 1, "threads": 1, "script_dir": stack.log_dir}
    run_wrk(stack.service_url, request, duration_s=args.warmup, name="scale-warm", **common)
    result = run_wrk(stack.service_url, request, duration_s=args.duration, name="scale", **common)
    return Timing(
        result.p50_ms,
        result.p99_ms,
        result.rps,
        result.errors,
        asyncio.run(_sql_ms(stack.url, page.statement)),
    )


def load(
    stack: Stack, executions: int, measured: int, models: int, consumers: int
) -> dataset.Catalog:
    """The API-made catalog plus COPY-loaded consumers, executions and published models."""
    started = time.perf_counter()
    catalog = asyncio.run(dataset.create_catalog(stack.service_url, JWT_SECRET, 40))
    others = dataset.consumer_rows(consumers)
    asyncio.run(dataset.copy_rows(stack.dsn, "consumers", dataset.CONSUMER_COLUMNS, others))
    rows = dataset.execution_rows(
        catalog,
        [row[0] for row in others],
        executions,
        measured=catalog.consumers["history"],
        measured_rows=measured,
    )
    asyncio.run(dataset.copy_rows(stack.dsn, "executions", dataset.EXECUTION_COLUMNS, rows))
    if models:
        bulk = dataset.tars_rows(catalog, models, start=dataset.HISTORY_START)
        asyncio.run(dataset.copy_rows(stack.dsn, "tars_models", dataset.TARS_COLUMNS, bulk))
    print(
        f"loaded {executions:,} executions ({measured:,} of the measured consumer), "
        f"{len(catalog.model_ids) + models:,} published models "
        f"in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    return catalog


def median_timing(timings: list[Timing]) -> Timing:
    """Per figure, the median over rounds (errors summed)."""
    return Timing(
        statistics.median(t.p50_ms for t in timings),
        statistics.median(t.p99_ms for t in timings),
        statistics.median(t.rps for t in timings),
        sum(t.errors for t in timings),
        statistics.median(t.sql_ms for t in timings),
    )


def report(small: list[tuple[str, Timing]], large: list[tuple[str, Timing]]) -> str:
    """The markdown table of both sizes and their ratio."""
    lines = [
        "| page | small p50 ms | large p50 ms | large/small | small p99 ms | large p99 ms "
        "| small SQL ms | large SQL ms | errors | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, s), (_, big) in zip(small, large, strict=True):
        ratio = big.p50_ms / s.p50_ms if s.p50_ms else float("inf")
        errors = s.errors + big.errors
        met = ratio <= TARGET and errors == 0
        lines.append(
            f"| {name} | {s.p50_ms:.2f} | {big.p50_ms:.2f} | {ratio:.2f} | {s.p99_ms:.2f} "
            f"| {big.p99_ms:.2f} | {s.sql_ms:.3f} | {big.sql_ms:.3f} | {errors} "
            f"| <= {TARGET} {'met' if met else 'NOT met'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark; exit 1 when a page is not flat."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per page")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternations (median kept)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--small-executions", type=int, default=1_000)
    parser.add_argument("--small-history-rows", type=int, default=100)
    parser.add_argument("--executions", type=int, default=1_000_000, help="large")
    parser.add_argument("--history-rows", type=int, default=100_000, help="large, measured")
    parser.add_argument("--models", type=int, default=50_000, help="published models added")
    parser.add_argument("--consumers", type=int, default=1_000, help="consumers (large)")
    parser.add_argument("--report", type=Path, help="also write the markdown table here")
    parser.add_argument("--quick", action="store_true", help="10x smaller, 1 round of 2 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 0.5, 1
        args.executions, args.history_rows, args.models = 100_000, 10_000, 5_000
    require_wrk()
    options = StackOptions(workers=args.workers, floor=False)
    with Stack(options) as small_stack, Stack(options) as large_stack:
        small_catalog = load(small_stack, args.small_executions, args.small_history_rows, 0, 50)
        large_catalog = load(
            large_stack, args.executions, args.history_rows, args.models, args.consumers
        )
        sides = [
            ("small", small_stack, small_catalog, asyncio.run(pages(small_stack, small_catalog))),
            ("large", large_stack, large_catalog, asyncio.run(pages(large_stack, large_catalog))),
        ]
        timings: dict[tuple[str, int], list[Timing]] = {}
        for n in range(args.rounds):
            for i in range(len(sides[0][3])):
                for label, stack, catalog, side_pages in sides:
                    page = side_pages[i]
                    timing = time_page(stack, page, catalog.tokens["history"], args)
                    timings.setdefault((label, i), []).append(timing)
                    print(
                        f"  round {n + 1} {label:5s} {page.name:36s} p50 {timing.p50_ms:6.2f} ms"
                        f"  p99 {timing.p99_ms:6.2f} ms  SQL {timing.sql_ms:.3f} ms  "
                        f"errors {timing.errors}",
                        flush=True,
                    )
        names = ["history, first page", "history, page at 3/4"]
        names += ["marketplace, first page", "marketplace, page at 3/4"]
        small = [(names[i], median_timing(timings[("small", i)])) for i in range(len(names))]
        large = [(names[i], median_timing(timings[("large", i)])) for i in range(len(names))]
    table = report(small, large)
    print(
        f"\nsmall: {args.small_executions:,} executions ({args.small_history_rows:,} measured), "
        f"{len(small_catalog.model_ids)} published models; large: {args.executions:,} "
        f"executions ({args.history_rows:,} measured), "
        f"{len(large_catalog.model_ids) + args.models:,} published models; "
        f"median of {args.rounds} round(s)\n\n{table}"
    )
    if args.report:
        args.report.write_text(table + "\n")
    ok = all(
        b.p50_ms <= TARGET * s.p50_ms and s.errors + b.errors == 0
        for (_, s), (_, b) in zip(small, large, strict=True)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
