"""History pages over giant rows: their size in bytes and the service's memory.

``.venv/bin/python -m bench.giant_history [--rows 100] [--mib 1] [--concurrent 4]``
(see bench/README.md): starts the fake RunPod and ``tarsify serve --workers 1`` on a
fresh PostgreSQL database like ``bench.run``, writes ``--rows`` executions for one
consumer whose input and output are each ``--mib`` MiB of JSON (rows as they were
stored before inputs were bounded, or outputs as large as a worker makes them), then
reads their history page of 100 ``--concurrent`` times at once, five rounds, and prints
the page's size and the service's RSS (before, peak while sampling, after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from bench import dataset
from bench.procs import RssSampler
from bench.stack import JWT_SECRET, Stack, StackOptions

ROUNDS = 5


def giant_rows(catalog: dataset.Catalog, rows: int, mib: float) -> list[tuple[Any, ...]]:
    """``rows`` completed executions of the history consumer with giant input and output."""
    consumer = catalog.consumers["history"]
    made = list(dataset.execution_rows(catalog, [consumer], rows, seed=11))
    filler = "x" * int(mib * 1024 * 1024)
    giant_input = json.dumps({"prompt": "a fox", "hidden": filler})
    giant_output = json.dumps({"text": filler})
    changed = []
    for record in made:
        values = list(record)
        values[4] = "COMPLETED"
        values[6], values[8] = giant_input, giant_output
        values[9] = values[10] = None
        changed.append(tuple(values))
    return changed


async def read_pages(base_url: str, token: str, concurrent: int) -> list[int]:
    """Sizes in bytes of the history pages read, ``concurrent`` at a time."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base_url}/api/consumer/executions?limit=100"
    sizes: list[int] = []
    async with aiohttp.ClientSession() as session:

        async def one() -> int:
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise dataset.ApiError(f"{response.status}: {body[:200]!r}")
                return len(body)

        for _ in range(ROUNDS):
            sizes += await asyncio.gather(*(one() for _ in range(concurrent)))
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--mib", type=float, default=1.0, help="MiB of input and of output")
    parser.add_argument("--concurrent", type=int, default=4)
    args = parser.parse_args(argv)
    with Stack(StackOptions(workers=1, floor=False)) as stack:
        assert stack.service is not None
        catalog = asyncio.run(dataset.create_catalog(stack.service_url, JWT_SECRET, 1))
        rows = giant_rows(catalog, args.rows, args.mib)
        asyncio.run(dataset.copy_rows(stack.dsn, "executions", dataset.EXECUTION_COLUMNS, rows))
        before, _, _ = stack.service_memory_mib()
        with RssSampler(stack.service.pgid, interval=0.05) as sampler:
            sizes = asyncio.run(
                read_pages(stack.service_url, catalog.tokens["history"], args.concurrent)
            )
        after, _, _ = stack.service_memory_mib()
    print(
        f"{args.rows} rows of {args.mib:g} MiB input + {args.mib:g} MiB output; "
        f"{len(sizes)} pages of 100 read {args.concurrent} at a time"
    )
    print(f"page size: {max(sizes):,} bytes (largest)")
    print(
        f"service RSS: {before:.0f} MiB before, {sampler.peak_kib / 1024:.0f} MiB peak, "
        f"{after:.0f} MiB after"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
