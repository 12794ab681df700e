"""What an API key costs per request, uncached, next to a (cached) JWT.

A key is looked up in the database on every request (one read on the unique hash index,
joined with its consumer), so that a revocation holds at once in every process. This
measures that read against the JWT verifier's in-process cache, on SQLite and on
PostgreSQL, one call at a time and 32 at a time:

    .venv/bin/python -m bench.api_keys [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from adapters.auth.jwt import mint_token
from adapters.sql.migrate import upgrade
from entrypoints.config import Settings
from entrypoints.container import build_container, resolve
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience
from tests.pg import create_test_database, drop_test_database

SECRET = "bench-api-keys-secret-long-enough-for-hs256"
Call = Callable[[], Awaitable[object]]


async def _sequential(call: Call, n: int) -> tuple[float, float]:
    """Median and p99 of one call at a time, in microseconds."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1e6)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


async def _concurrent(call: Call, n: int, width: int = 32) -> float:
    """Calls per second with ``width`` calls in flight."""

    async def lane() -> None:
        for _ in range(n // width):
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    return (n // width * width) / (time.perf_counter() - started)


async def measure(url: str, calls: int) -> list[str]:
    """Rows of the result table for the database at ``url`` (migrated here)."""
    await upgrade(url)
    settings = Settings.from_variables(
        database_url=url, tarsify_jwt_secret=SECRET, reconciler_enabled=False
    )
    container = build_container(settings)
    await resolve(container.init_resources)
    try:
        accounts = await resolve(container.account_service)
        keys = await resolve(container.api_key_service)
        verifier = await resolve(container.identity_verifier)
        consumer = await accounts.register_consumer(
            Identity("bench-uid", "b@x.io", Audience.CONSUMERS.value), None
        )
        key = (await keys.create(consumer.id, "bench")).secret
        token = mint_token(SECRET, Audience.CONSUMERS, "bench-uid", "b@x.io")
        rows = []
        for label, credential in (("JWT (cached)", token), ("API key (no cache)", key)):

            async def call(credential: str = credential) -> object:
                identity = await verifier.verify(credential, Audience.CONSUMERS)
                return await accounts.consumer_id(identity)

            await _sequential(call, 200)  # warm-up
            p50, p99 = await _sequential(call, calls)
            rate = await _concurrent(call, calls)
            rows.append(f"| {label} | {p50:,.0f} | {p99:,.0f} | {rate:,.0f} |")
        return rows
    finally:
        await resolve(container.shutdown_resources)


async def main_async(calls: int) -> None:
    """Print the table for SQLite and PostgreSQL."""
    print("| backend | credential | p50 µs | p99 µs | calls/s (32 in flight) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        for row in await measure(sqlite_url, calls):
            print("| SQLite " + row)
    pg_url = await create_test_database()
    try:
        for row in await measure(pg_url, calls):
            print("| PostgreSQL " + row)
    finally:
        await drop_test_database(pg_url)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per measurement")
    asyncio.run(main_async(parser.parse_args(argv).calls))


if __name__ == "__main__":
    main()
