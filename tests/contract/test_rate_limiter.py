"""``LimitsRateLimiter`` (adapters/limits) on its memory storage and on a real
redis-server started here on loopback: the quota per key, what the headers need, and what
it does while Redis is down and once it is back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.limits.limiter import LimitsRateLimiter, close_storage, redis_storage

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            *(REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(folder)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("redis-server did not start")


@pytest.fixture
def port_and_folder(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield free_port(), tmp_path


@pytest.mark.parametrize("strategy", ["moving", "fixed"])
async def test_each_key_has_its_quota_in_memory(strategy: str) -> None:
    limiter = LimitsRateLimiter("run", 2, strategy=strategy)  # type: ignore[arg-type]
    first, second, third = [await limiter.hit("a") for _ in range(3)]
    assert (first.admitted, second.admitted, third.admitted) == (True, True, False)
    assert (first.remaining, second.remaining, third.remaining) == (1, 0, 0)
    assert (first.quota, first.window_s) == (2, 60)
    assert 1 <= third.reset_s <= 60
    assert (await limiter.hit("b")).admitted  # another key is unaffected
    # admit: None while admitted (counted all the same), the decision once refused.
    assert await limiter.admit("c") is None
    assert await limiter.admit("c") is None
    refused = await limiter.admit("c")
    assert refused is not None and not refused.admitted and refused.reset_s >= 1


async def test_redis_down_counts_in_the_process_then_redis_again(
    port_and_folder: tuple[int, Path],
) -> None:
    port, folder = port_and_folder
    errors: list[str] = []
    storage = redis_storage(f"redis://127.0.0.1:{port}/0")
    limiter = LimitsRateLimiter(
        "run", 2, shared=storage, on_store_error=errors.append, retry_shared_s=0.0
    )
    try:
        # Nothing listens yet: admitted from the process's own count, and counted.
        assert [(await limiter.hit("a")).admitted for _ in range(3)] == [True, True, False]
        assert errors == ["run"] * 3
        proc = start_redis(port, folder)
        try:
            # Back: counted in Redis (a fresh count there), where every process sees it.
            assert (await limiter.hit("a")).remaining == 1
            assert errors == ["run"] * 3
            keys = redis.Redis(port=port).keys("tarsify_limits*")
            assert keys, "nothing was counted in Redis"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        await close_storage(storage)
