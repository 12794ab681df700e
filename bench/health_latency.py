"""``/health`` while worst-case validations run: how long the service takes to answer.

Starts ``tarsify serve`` (one process, the embedded SQLite database in a temporary
directory, the local GPU simulator, shipped defaults otherwise), publishes a model whose
schema is the costliest an admin may save (``$ref``s unfolding into ~6,000 subschemas per
array item, just under the save-time bound), then keeps ``--runs`` runs in flight whose
inputs would take minutes to check without the validation budget, while ``/health`` is
asked every ``--every`` seconds. Prints the latency of ``/health`` during the runs (median,
p99, maximum) and what the runs were answered.

    .venv/bin/python -m bench.health_latency
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.auth.jwt import mint_token
from tarsify.ports.identity import Audience

SECRET = "bench-health-latency-secret-long-enough-0123456789"
ADMIN = "bench-admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _schema(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {"L0": {"type": "integer", "minimum": 0}}
    for n in range(1, levels + 1):
        below = {"$ref": f"#/$defs/L{n - 1}"}
        defs[f"L{n}"] = {"allOf": [below, dict(below)]}
    items = {"$ref": f"#/$defs/L{levels}"}
    return {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": items}},
        "$defs": defs,
    }


async def _ok(http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any) -> Any:
    async with http.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        data = await r.json()
        if not data.get("success"):
            raise RuntimeError(f"{method} {url}: {r.status} {data}")
        return data["data"]


async def _setup(base: str, admin: str, developer: str, consumer: str) -> str:
    async with aiohttp.ClientSession() as http:
        await _ok(http, "POST", f"{base}/api/developer/auth/register", developer, {})
        await _ok(http, "POST", f"{base}/api/consumer/auth/register", consumer, {})
        endpoint = await _ok(
            http, "POST", f"{base}/api/admin/endpoints", admin,
            {"runpodEndpointId": "bench-costly", "name": "Costly", "gpuType": "A100"},
        )  # fmt: skip
        body = {
            "endpointId": endpoint["id"], "slug": "costly", "name": "Costly",
            "category": "TEXT", "inputSchema": _schema(11), "outputType": "TEXT",
            "outputFormat": "text", "estimatedSeconds": 1,
        }  # fmt: skip
        base_model = await _ok(http, "POST", f"{base}/api/admin/base-models", admin, body)
        tars = await _ok(
            http, "POST", f"{base}/api/developer/tars-models", developer,
            {"baseModelId": base_model["id"], "title": "Costly"},
        )  # fmt: skip
        await _ok(
            http, "PATCH", f"{base}/api/developer/tars-models/{tars['id']}", developer,
            {"status": "PUBLISHED"},
        )  # fmt: skip
        return str(tars["slug"])


async def _measure(base: str, slug: str, consumer: str, runs: int, every: float) -> None:
    headers = {"Authorization": f"Bearer {consumer}"}
    body = {"inputs": {"xs": [0] * 5000}}
    answers: list[int] = []
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:

        async def one_run() -> None:
            url = f"{base}/api/marketplace/models/{slug}/run"
            async with http.post(url, json=body, headers=headers) as r:
                await r.read()
                answers.append(r.status)

        tasks = [asyncio.create_task(one_run()) for _ in range(runs)]
        await asyncio.sleep(0.2)  # the checks are under way
        while not all(t.done() for t in tasks):
            started = time.perf_counter()
            async with http.get(f"{base}/health") as r:
                await r.read()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"/health during {runs} worst-case runs: {len(latencies)} answers, "
        f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1]:.1f} ms; the runs were answered {sorted(answers)}"
    )


def main(argv: list[str] | None = None) -> int:
    """Serve, set up, measure, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="worst-case runs at once")
    parser.add_argument("--every", type=float, default=0.02, help="seconds between /health")
    args = parser.parse_args(argv)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    admin = mint_token(SECRET, Audience.DEVELOPERS, ADMIN, "admin@example.com")
    developer = mint_token(SECRET, Audience.DEVELOPERS, "bench-dev", "dev@example.com")
    consumer = mint_token(SECRET, Audience.CONSUMERS, "bench-cons", "cons@example.com")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "BLOB_FILESYSTEM_ROOT": f"{tmp}/files",
            "TARSIFY_JWT_SECRET": SECRET,
            "ADMIN_UIDS": ADMIN,
            "PORT": str(port),
        }
        tarsify = Path(sys.executable).with_name("tarsify")
        log = open(f"{tmp}/serve.log", "wb")  # noqa: SIM115 - closed with the server
        server = subprocess.Popen(
            [str(tarsify), "serve"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("tarsify serve did not start") from None
                    time.sleep(0.2)
            print("shipped defaults (the embedded database, the simulator); no setting changed")
            slug = asyncio.run(_setup(base, admin, developer, consumer))
            asyncio.run(_measure(base, slug, consumer, args.runs, args.every))
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
