"""Subprocesses of a benchmark run: start in their own session, stop the whole group, sample RSS."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Managed:
    """A subprocess started in a new session, so it and every child it spawns are one group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_dir: Path,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pgid(self) -> int:
        """The process group (= session) id: the leader's pid."""
        return self.proc.pid

    def alive(self) -> bool:
        """True while the leader runs."""
        return self.proc.poll() is None

    def wait_port(self, port: int, timeout: float = 30.0) -> None:
        """Return once ``port`` accepts connections; raise if the process died or timed out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after ``timeout`` seconds."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_pids(self.pgid):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(0.1)
            if not group_pids(self.pgid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1.0)
        self._log.close()


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after "(comm)": state ppid pgrp ...; comm may contain spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_memory(pgid: int) -> tuple[int, int, int]:
    """(RSS, PSS in KiB summed over the group, number of processes)."""
    pids = group_pids(pgid)
    rss = sum(_kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids)
    pss = sum(_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
    return rss, pss, len(pids)


class RssSampler:
    """Samples a process group's summed RSS in a thread; ``peak_kib`` after ``stop()``."""

    def __init__(self, pgid: int, interval: float = 0.2) -> None:
        self._pgid = pgid
        self._interval = interval
        self._stop = threading.Event()
        self.peak_kib = 0
        self.peak_pss_kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            rss, pss, _ = group_memory(self._pgid)
            self.peak_kib = max(self.peak_kib, rss)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            if self._stop.wait(self._interval):
                return


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_snapshot(groups: Mapping[str, int], database: str) -> dict[str, float]:
    """CPU seconds used so far, by who: each named process group, ``wrk``, the PostgreSQL
    backends of ``database``, ``other`` (everything else) and ``total`` (the machine)."""
    by_pgid = {pgid: name for name, pgid in groups.items()}
    used = dict.fromkeys([*groups, "wrk", "postgres", "other"], 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        who = by_pgid.get(int(fields[2]))
        if who is None and comm == "wrk":
            who = "wrk"
        if who is None and comm == "postgres":
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            if f" {database} ".encode() in cmdline:
                who = "postgres"
        used[who or "other"] += seconds
    with open("/proc/stat") as handle:
        ticks = [int(v) for v in handle.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    used["total"] = (sum(ticks[:8]) - idle) / CLOCK_TICKS
    return used


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two snapshots, by who."""
    return {key: after[key] - before.get(key, 0.0) for key in after}
