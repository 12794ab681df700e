"""History pages of SDXL-sized image executions: inline outputs against the file store.

Runs the app in-process (aiohttp test server) on a fresh PostgreSQL database twice:
"before", with no file store (outputs kept inline, as they were), and "after", with the
filesystem store. Each time 20 executions complete with a 1.5 MB PNG data URI, then
``GET /api/consumer/executions?limit=20`` is measured: page size, requests/s and p50
latency over ``--seconds`` with ``--concurrency`` clients, and the bytes the database
holds in ``executions.output_payload``.

    .venv/bin/python -m bench.history_files [--seconds 10] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from dependency_injector import providers
from sqlalchemy import text

from adapters.memory.gpu import FakeGpuProvider
from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from entrypoints.config import Settings, configure_logging
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.contract.test_engine_files import big_png
from tests.e2e.support import ADMIN_UID, JWT_SECRET, Api, seed, tokens
from tests.pg import create_test_database, drop_test_database

PAGE = "/api/consumer/executions?limit=20"


def _settings(url: str, files_root: str) -> Settings:
    return Settings.from_variables(
        database_url=url,
        tarsify_jwt_secret=JWT_SECRET,
        admin_uids=ADMIN_UID,
        reconciler_enabled=False,
        status_poll_min_interval=0.0,
        log_level="WARNING",
        blob_store="filesystem",
        blob_filesystem_root=files_root,
        public_base_url="http://bench.test",
    )


async def _fill(api: Api, gpu: FakeGpuProvider, png: bytes) -> None:
    world = await seed(api)
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    ids = []
    for _ in range(20):
        run = await api.ok(
            "POST", f"/api/marketplace/models/{world.slug}/run", "consumer_a",
            {"inputs": {"prompt": "x"}}, 202,
        )  # fmt: skip
        ids.append(run["id"])
    for job_id in list(gpu.jobs):
        gpu.set_status(job_id, "COMPLETED", output={"images": [uri], "seed": 7})
    for execution_id in ids:
        done = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
        assert done["status"] == "COMPLETED", done


async def _load(client: TestClient, seconds: float, concurrency: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {tokens()['consumer_a']}"}
    latencies: list[float] = []
    size = 0
    stop = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal size
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with client.get(PAGE, headers=headers) as response:
                body = await response.read()
            latencies.append(time.perf_counter() - started)
            size = len(body)

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return {
        "page_bytes": size,
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
    }


async def measure(offload: bool, seconds: float, concurrency: int) -> dict[str, float]:
    """One scenario on its own database."""
    url = await create_test_database()
    try:
        await upgrade(url)
        with tempfile.TemporaryDirectory() as root:
            container = build_container(_settings(url, root))
            gpu = FakeGpuProvider()
            container.gpu_provider.override(providers.Object(gpu))
            if not offload:
                container.output_files.override(providers.Object(None))
            async with TestClient(TestServer(create_app(container))) as client:
                await _fill(Api(client, tokens()), gpu, big_png(1_500_000))
                figures = await _load(client, seconds, concurrency)
        engine = create_engine(url)
        async with engine.connect() as connection:
            held = await connection.scalar(
                text("SELECT sum(length(CAST(output_payload AS TEXT))) FROM executions")
            )
        await engine.dispose()
        return {**figures, "db_output_bytes": float(held or 0)}
    finally:
        await drop_test_database(url)


def _row(name: str, f: dict[str, Any]) -> str:
    return (
        f"| {name} | {f['page_bytes']:,.0f} | {f['rps']:,.1f} | {f['p50_ms']:,.1f} "
        f"| {f['db_output_bytes']:,.0f} |"
    )


async def main(seconds: float, concurrency: int) -> None:
    """Print the before/after table."""
    configure_logging("WARNING", "console")
    before = await measure(False, seconds, concurrency)
    after = await measure(True, seconds, concurrency)
    print("| outputs | page bytes | requests/s | p50 ms | bytes in executions.output_payload |")
    print("|---|---|---|---|---|")
    print(_row("inline (before)", before))
    print(_row("file store (after)", after))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency))
