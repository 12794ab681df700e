"""``tarsify serve --workers 2``: a bare supervisor (the same pid) and two worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

ROOT = Path(__file__).resolve().parents[2]
BANNER = "tarsify serving on"


def start_workers(cwd: Path, port: int) -> tuple[subprocess.Popen[str], list[int]]:
    """Start ``serve --workers 2`` on a SQLite file; returns it and the workers' pids."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=cwd,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'workers.db'}",
            "LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: list[int] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    for line in proc.stdout:
        if BANNER in line:
            pids.append(int(line.rsplit("[pid ", 1)[1].split("]")[0]))
        if len(pids) == 2 or time.monotonic() > deadline:
            break
    return proc, pids


def children(pid: int) -> set[int]:
    """The live child processes of ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry))
    return found


def cmdline(pid: int) -> list[bytes]:
    """The arguments ``pid`` runs with."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[int], int]]:
    """A running ``serve --workers 2``; everything it started is killed afterwards."""
    port = unused_port()
    proc, pids = start_workers(tmp_path, port)
    try:
        yield proc, pids, port
    finally:
        for pid in [*pids, proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        proc.wait(timeout=10)


async def test_two_workers_serve_under_a_bare_supervisor(
    served: tuple[subprocess.Popen[str], list[int], int],
) -> None:
    proc, pids, port = served
    assert len(set(pids)) == 2 and proc.pid not in pids
    assert children(proc.pid) == set(pids)
    # The serve process became the supervisor: a bare interpreter running the file.
    command = cmdline(proc.pid)
    assert b"-S" in command and command[3].endswith(b"entrypoints/process/supervisor.py")
    async with aiohttp.ClientSession() as http:
        for _ in range(4):
            async with http.get(f"http://127.0.0.1:{port}/health/ready") as reply:
                assert reply.status == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert children(proc.pid) == set()


def test_a_worker_that_dies_stops_the_service(
    served: tuple[subprocess.Popen[str], list[int], int],
) -> None:
    proc, pids, _ = served
    os.kill(pids[0], signal.SIGKILL)
    # The other worker is stopped and the supervisor exits non-zero (to be restarted).
    assert proc.wait(timeout=30) == 1
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with."""
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def exists(path: str) -> bool:
    return Path(path).exists()


async def test_a_scrape_adds_up_every_workers_metrics(
    served: tuple[subprocess.Popen[str], list[int], int],
) -> None:
    proc, pids, port = served
    shared = environ(pids[0])["PROMETHEUS_MULTIPROC_DIR"]
    assert environ(pids[1])["PROMETHEUS_MULTIPROC_DIR"] == shared and exists(shared)
    base = f"http://127.0.0.1:{port}"
    # A new connection each: the kernel spreads them over both workers (SO_REUSEPORT).
    for _ in range(40):
        async with aiohttp.ClientSession() as http, http.get(f"{base}/health") as reply:
            assert reply.status == 200
    line = 'tarsify_http_requests_total{method="GET",route="/health",status="200"} 40.0'
    for _ in range(4):  # whichever worker answers the scrape
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as reply:
            assert line in (await reply.text()).splitlines()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not exists(shared)  # the supervisor removed the workers' files
