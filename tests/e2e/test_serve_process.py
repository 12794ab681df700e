"""``tarsify serve`` as a real process: serving with no configuration, draining on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import unused_port

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 20


def start(cwd: Path, port: int, *args: str, **env: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``tarsify serve`` and read its output until it serves; returns the lines read."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "tarsify serving on" in line or time.monotonic() > deadline:
            break
    return proc, lines


async def test_loopback_with_no_configuration_serves(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    port = unused_port()
    proc, lines = start(tmp_path, port)
    procs.append(proc)
    assert any(f"http://127.0.0.1:{port}" in line for line in lines), lines
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/health/ready") as reply:
            assert reply.status == 200
            assert (await reply.json())["data"]["status"] == "ready"
        # Without --demo the one-click demo sign-in does not exist.
        async with http.post(f"http://127.0.0.1:{port}/web/demo-sign-in") as reply:
            assert reply.status == 404
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert (tmp_path / "tarsify.db").exists(), "the embedded SQLite default was used"


async def _count_executions(http: aiohttp.ClientSession, base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}/api/consumer/executions?limit=50", headers=headers) as reply:
        body: dict[str, Any] = await reply.json()
    return len(body["data"])


async def test_sigterm_answers_every_accepted_request(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    port = unused_port()
    env = {
        "SIMULATOR_QUEUE_SECONDS": "0.2",
        "SIMULATOR_RUN_SECONDS": "3.0",
        "LOG_LEVEL": "WARNING",
        # More unfinished runs than the default limit, all at once.
        "MAX_ACTIVE_EXECUTIONS": str(IN_FLIGHT),
    }
    proc, lines = start(tmp_path, port, "--demo", **env)
    procs.append(proc)
    token = next(
        m.group(1) for m in map(re.compile(r"\s*export CONSUMER_TOKEN=(\S+)").match, lines) if m
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    run = f"{base}/api/marketplace/models/cartoon-portraits/run?wait=30"

    async with aiohttp.ClientSession() as http:
        # --demo mounts the web pages' one-click sign-in: a working key of the demo consumer.
        async with http.post(f"{base}/web/demo-sign-in") as reply:
            assert reply.status == 201
            key = (await reply.json())["data"]["key"]
        me = f"{base}/api/consumer/auth/me"
        async with http.get(me, headers={"Authorization": f"Bearer {key}"}) as reply:
            assert (await reply.json())["data"]["uid"] == "demo-consumer"

        async def one(i: int) -> tuple[int, dict[str, Any]]:
            body = {"inputs": {"prompt": f"fox {i}"}}
            async with http.post(run, json=body, headers=headers) as reply:
                return reply.status, await reply.json()

        runs = [asyncio.create_task(one(i)) for i in range(IN_FLIGHT)]
        # Every request is inside its handler once its execution is stored; only then stop.
        # (The simulated run lasts 3 s, so none has been answered yet.)
        while await _count_executions(http, base, token) < IN_FLIGHT:
            assert not any(task.done() for task in runs), "a run answered before SIGTERM"
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*runs)

    assert [status for status, _ in answers] == [200] * IN_FLIGHT, answers
    assert {body["data"]["status"] for _, body in answers} == {"COMPLETED"}
    assert await asyncio.to_thread(proc.wait, 30) == 0
