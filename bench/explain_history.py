"""Explain the consumer history query on 200k executions; exit 1 unless the index serves it.

Run from the project root: ``.venv/bin/python -m bench.explain_history [--rows N]``.
Needs the PostgreSQL server of ``tests/pg.py`` (``TARSIFY_TEST_PG_DSN``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from adapters.sql.engine import create_engine
from adapters.sql.explain import explain, scans_of
from adapters.sql.history import consumer_history_query
from adapters.sql.migrate import upgrade
from bench.history_data import load_history
from tarsify.domain.pagination import PageRequest
from tests.pg import create_test_database, drop_test_database

INDEX = "ix_executions_consumer_created"


async def run(rows: int, consumers: int, show: bool) -> bool:
    """Load, explain the first and a deep page, and report; True when both use the index."""
    url = await create_test_database()
    try:
        await upgrade(url)
        started = time.perf_counter()
        history = await load_history(url, rows, consumers)
        print(f"loaded {rows} executions in {time.perf_counter() - started:.1f}s")
        consumer = history.consumer_ids[0]
        depth = len(history.keys[consumer]) * 3 // 4
        pages = {
            "first page": PageRequest(limit=20),
            f"page after row {depth}": PageRequest(limit=20, after=history.cursor(consumer, depth)),
        }
        ok = True
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                for name, page in pages.items():
                    plan = await explain(connection, consumer_history_query(consumer, page))
                    scans = scans_of(plan, "executions")
                    used = scans == [("Index Scan", INDEX)]
                    ok = ok and used
                    print(f"\n== {name}: {plan['Execution Time']:.3f} ms, scans {scans}")
                    if show or not used:
                        print(json.dumps(plan, indent=2))
        finally:
            await engine.dispose()
        return ok
    finally:
        await drop_test_database(url)


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--consumers", type=int, default=5)
    parser.add_argument("--quiet", action="store_true", help="print plans only on failure")
    args = parser.parse_args()
    ok = asyncio.run(run(args.rows, args.consumers, show=not args.quiet))
    print("\nOK: the composite index serves both pages" if ok else f"\nFAIL: {INDEX} not used")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
