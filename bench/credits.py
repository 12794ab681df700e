"""What credits cost on the run path, on PostgreSQL.

``ExecutionService.run`` with a GPU provider that answers at once (the in-memory fake),
in three configurations, each on a fresh database:

- ``no credits``: no listener at all (the run path before credits);
- ``free model``: price 0 — the consumer's row is locked and the unfinished executions
  counted (the active-executions limit), nothing is held;
- ``paid model``: price 5 — the same, plus the hold (an UPDATE of the balance and an
  INSERT into the ledger) in the transaction that stores the execution.

Each consumer runs at most ``MAX_ACTIVE_EXECUTIONS`` (10) times, so the limit never
refuses and the count reads at most ten index entries, as in production::

    .venv/bin/python -m bench.credits [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections.abc import Iterator
from typing import Any

from dependency_injector import providers

from adapters.memory.gpu import FakeGpuProvider
from adapters.sql.migrate import upgrade
from entrypoints.config import Settings
from entrypoints.container import build_container, resolve
from tarsify.domain.models import Identity, ModelCategory, OutputType, TarsModelStatus
from tarsify.domain.run_request import RunRequest
from tarsify.ports.identity import Audience
from tarsify.services.catalog import NewBaseModel, NewEndpoint
from tarsify.services.engine.listeners import Listeners
from tarsify.services.studio import NewTarsModel
from tests.pg import create_test_database, drop_test_database

SCHEMA = {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}
MODES = {"no credits": None, "free model": 0, "paid model": 5}
WIDTH = 32


async def _seed(container: Any, price: int | None, consumers: int) -> Iterator[Any]:
    """A published model and ``consumers`` consumers (with credits); cycles over them."""
    catalog = await resolve(container.catalog_service)
    accounts = await resolve(container.account_service)
    studio = await resolve(container.studio_service)
    credits = await resolve(container.credits_service)
    endpoint = await catalog.create_endpoint(NewEndpoint("bench-ep", "Bench", "L4"))
    base = await catalog.create_base_model(
        NewBaseModel(endpoint.id, "bench-base", "Bench", ModelCategory.TEXT, SCHEMA,
                     OutputType.TEXT, "txt", estimated_seconds=60)
    )  # fmt: skip
    developer = await accounts.register_developer(
        Identity("bench-dev", "d@x.io", Audience.DEVELOPERS.value), None
    )
    new = NewTarsModel(base.base_model.id, "Bench", "bench", price_per_run=price or 0)
    model = (await studio.create(developer.id, new)).model
    await studio.update(developer.id, model.id, {"status": TarsModelStatus.PUBLISHED})
    ids = []
    for i in range(consumers):
        identity = Identity(f"bench-c{i}", "c@x.io", Audience.CONSUMERS.value)
        ids.append((await accounts.register_consumer(identity, None)).id)
        if price:
            await credits.grant(identity.uid, 1000, "bench")
    return itertools.cycle(ids)


async def measure(url: str, price: int | None, calls: int) -> tuple[float, float, float]:
    """p50 and p99 (µs) of one run at a time, and runs/s with ``WIDTH`` in flight."""
    await upgrade(url)
    settings = Settings.from_variables(
        database_url=url, reconciler_enabled=False, db_pool_size=WIDTH + 4
    )
    container = build_container(settings)
    container.gpu_provider.override(providers.Object(FakeGpuProvider()))
    if price is None:
        container.execution_listeners.override(providers.Object(Listeners()))
    await resolve(container.init_resources)
    try:
        total = 200 + 2 * calls
        consumers = await _seed(container, price, total // 10 + WIDTH)
        executions = await resolve(container.execution_service)

        async def run() -> None:
            await executions.run(RunRequest(next(consumers), "bench", {"prompt": "x"}))

        for _ in range(200):  # warm-up
            await run()
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await run()
            times.append((time.perf_counter() - started) * 1e6)
        times.sort()

        async def lane() -> None:
            for _ in range(calls // WIDTH):
                await run()

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(WIDTH)))
        rate = calls // WIDTH * WIDTH / (time.perf_counter() - started)
        return statistics.median(times), times[int(len(times) * 0.99)], rate
    finally:
        await resolve(container.shutdown_resources)


async def main_async(calls: int, rounds: int) -> None:
    """Print the table: medians over ``rounds``, the modes alternating in each round."""
    results: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode, price in MODES.items():
            url = await create_test_database()
            try:
                results[mode].append(await measure(url, price, calls))
            finally:
                await drop_test_database(url)
    print(f"| run path (PostgreSQL, {calls} runs) | p50 µs | p99 µs | runs/s ({WIDTH} in flight) |")
    print("|---|---|---|---|")
    for mode, rows in results.items():
        p50, p99, rate = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"| {mode} | {p50:,.0f} | {p99:,.0f} | {rate:,.0f} |")


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="runs per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians reported)")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.calls, args.rounds))


if __name__ == "__main__":
    main()
