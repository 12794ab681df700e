"""Request-rate limits: runs per consumer (ERR_4292) and open routes per address
(ERR_4293), in one process's memory and shared by two service processes through a real
redis-server started here on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from entrypoints.container import build_container
from entrypoints.http.app import create_app

from .conftest import ClientFactory, make_settings
from .support import ADMIN_UID, JWT_SECRET, Api, Reply, seed, tokens

ROOT = Path(__file__).resolve().parents[2]
BANNER = "tarsify serving on"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RATE = re.compile(r'^"run";r=(\d+);t=(\d+)$')


def run_body(prompt: str = "x") -> dict[str, Any]:
    return {"inputs": {"prompt": prompt}}


def assert_run_headers(reply: Reply, quota: int) -> int:
    """The ratelimit headers of a run answer; returns ``r``."""
    assert reply.headers["RateLimit-Policy"] == f'"run";q={quota};w=60', reply.headers
    found = RATE.match(reply.headers["RateLimit"])
    assert found is not None, reply.headers["RateLimit"]
    assert 0 <= int(found[2]) <= 60
    return int(found[1])


async def test_runs_over_the_quota_are_refused_and_store_nothing(
    aiohttp_client: ClientFactory,
) -> None:
    settings = make_settings(run_rate_limit_per_minute=3)
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    world = await seed(api)
    path = f"/api/marketplace/models/{world.slug}/run"
    replies = [await api.call("POST", path, "consumer_a", run_body()) for _ in range(5)]
    assert [r.status for r in replies] == [202, 202, 202, 429, 429]
    assert [assert_run_headers(r, 3) for r in replies] == [2, 1, 0, 0, 0]
    refused = replies[3]
    assert refused.code == "ERR_4292"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.body["error"]["details"]["limit"] == 3
    history = await api.ok("GET", "/api/consumer/executions", "consumer_a")
    assert len(history) == 3  # the refused runs stored nothing
    # A refused request is counted before its body is read: a bad body is 429 too.
    bad = await api.call("POST", path, "consumer_a", {"inputs": "nope"})
    assert bad.status == 429 and assert_run_headers(bad, 3) == 0
    # Another consumer has a quota of its own; an error answer carries the headers too.
    other = await api.call("POST", path, "consumer_b", run_body())
    assert other.status == 202 and assert_run_headers(other, 3) == 2
    invalid = await api.call("POST", path, "consumer_b", {"inputs": {"prompt": ""}})
    assert invalid.status == 422 and assert_run_headers(invalid, 3) == 1


async def test_no_run_limit_when_it_is_zero(aiohttp_client: ClientFactory) -> None:
    api = Api(await aiohttp_client(create_app(build_container(make_settings()))), tokens())
    world = await seed(api)
    path = f"/api/marketplace/models/{world.slug}/run"
    reply = await api.call("POST", path, "consumer_a", run_body())
    assert reply.status == 202 and "RateLimit" not in reply.headers


async def test_open_routes_are_limited_per_address(aiohttp_client: ClientFactory) -> None:
    settings = make_settings(anon_rate_limit_per_minute=2)
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    await seed(api)
    for _ in range(2):
        await api.ok("GET", "/api/marketplace/models")
    # Without TRUSTED_PROXIES the header is the client's word: it changes nothing.
    refused = await api.call("GET", "/files/x", headers={"X-Forwarded-For": "203.0.113.9"})
    assert refused.status == 429 and refused.code == "ERR_4293"
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await api.call("GET", "/sign-in")).status == 429
    # Health, the API reference and authenticated routes are not counted.
    assert (await api.call("GET", "/health/ready")).status == 200
    assert (await api.call("GET", "/openapi.json")).status == 200
    assert (await api.call("GET", "/api/consumer/executions", "consumer_a")).status == 200


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    aiohttp_client: ClientFactory,
) -> None:
    settings = make_settings(anon_rate_limit_per_minute=1, trusted_proxies="127.0.0.0/8, ::1")
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    path = "/api/marketplace/models"

    async def status(forwarded: str) -> int:
        reply = await api.call("GET", path, headers={"X-Forwarded-For": forwarded})
        return reply.status

    assert await status("198.51.100.1") == 200
    assert await status("198.51.100.1") == 429
    assert await status("198.51.100.2") == 200
    # The nearest untrusted hop is the client: a spoofed first entry does not help.
    assert await status("1.2.3.4, 198.51.100.2") == 429


# --- two service processes sharing one real redis-server -------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of this test on a free loopback port (no persistence)."""
    port = unused_port()
    proc = subprocess.Popen(
        [
            *(REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def start_service(cwd: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    """``serve`` on ``port``; returns once it serves."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "entrypoints.cli",
            "serve",
            "--port",
            str(port),
            *env.pop("ARGS", "").split(),
        ],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if BANNER in line:
            return proc
    proc.kill()
    raise AssertionError("the service did not start")


QUOTA = 5


@pytest.fixture
def two_services(
    tmp_path: Path, redis_server: tuple[subprocess.Popen[bytes], int]
) -> Iterator[tuple[int, int]]:
    _, redis_port = redis_server
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "TARSIFY_JWT_SECRET": JWT_SECRET,
        "ADMIN_UIDS": ADMIN_UID,
        "SIMULATOR_QUEUE_SECONDS": "0",
        "SIMULATOR_RUN_SECONDS": "0",
        "RECONCILER_ENABLED": "false",
        "WEBHOOK_DELIVERY_ENABLED": "false",
        "BLOB_FILESYSTEM_ROOT": str(tmp_path / "files"),
        "MAX_ACTIVE_EXECUTIONS": "1000",
        "RUN_RATE_LIMIT_PER_MINUTE": str(QUOTA),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LOG_LEVEL": "WARNING",
    }
    ports = unused_port(), unused_port()
    started: list[subprocess.Popen[str]] = []
    try:
        started.append(start_service(tmp_path, ports[0], dict(env)))
        started.append(start_service(tmp_path, ports[1], {**env, "ARGS": "--no-migrate"}))
        yield ports
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


async def test_two_processes_share_the_run_quota_through_redis(
    two_services: tuple[int, int], redis_server: tuple[subprocess.Popen[bytes], int]
) -> None:
    a_port, b_port = two_services
    async with (
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{a_port}") as a,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{b_port}") as b,
    ):
        api_a, api_b = Api(a, tokens()), Api(b, tokens())  # type: ignore[arg-type]
        world = await seed(api_a)
        path = f"/api/marketplace/models/{world.slug}/run"
        burst = await asyncio.gather(
            *(
                (api_a if n % 2 else api_b).call("POST", path, "consumer_a", run_body())
                for n in range(3 * QUOTA)
            )
        )
        statuses = sorted(r.status for r in burst)
        assert statuses == [202] * QUOTA + [429] * (2 * QUOTA), statuses
        for reply in burst:
            assert_run_headers(reply, QUOTA)
            if reply.status == 429:
                assert reply.code == "ERR_4292" and int(reply.headers["Retry-After"]) >= 1
        assert (
            len(await api_a.ok("GET", "/api/consumer/executions?limit=100", "consumer_a")) == QUOTA
        )
        # Another consumer is unaffected.
        other = await api_b.call("POST", path, "consumer_b", run_body())
        assert other.status == 202 and assert_run_headers(other, QUOTA) == QUOTA - 1

        # Redis stops: each process counts in its own memory (fails open to the
        # process), and says so in /metrics.
        proc, _ = redis_server
        proc.terminate()
        proc.wait(timeout=10)
        alone = [await api_a.call("POST", path, "consumer_b", run_body()) for _ in range(QUOTA + 1)]
        assert [r.status for r in alone] == [202] * QUOTA + [429]
        assert [assert_run_headers(r, QUOTA) for r in alone] == [4, 3, 2, 1, 0, 0]
        async with a.get("/metrics") as response:
            metrics = await response.text()
        found = re.search(
            r'^tarsify_rate_limit_store_errors_total\{limit="run"\} (\S+)$', metrics, re.M
        )
        assert found is not None and float(found[1]) >= 1
