"""Driving load with wrk: one Lua script per scenario, and a machine-readable summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MARK = "BENCH_JSON "

# Printed by wrk once the run ends: counts, latency percentiles (microseconds) and errors.
# wrk counts a response as a status error when its code is 400 or above.
_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request that wrk repeats."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # When given, each request takes the next of these Authorization values in turn
    # (many callers instead of one).
    authorizations: tuple[str, ...] = ()

    def lua(self) -> str:
        """A wrk script sending this request and printing the summary as JSON."""
        lines = [f'wrk.method = "{self.method}"', f"wrk.path = [==[{self.path}]==]"]
        lines += [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in self.headers.items()]
        if self.body is not None:
            lines.append(f"wrk.body = [==[{self.body}]==]")
        if self.authorizations:
            values = ", ".join(f"[==[{v}]==]" for v in self.authorizations)
            lines += [
                f"local authorizations = {{{values}}}",
                "local turn = math.random(#authorizations)",
                "request = function()",
                "  turn = turn % #authorizations + 1",
                '  wrk.headers["Authorization"] = authorizations[turn]',
                "  return wrk.format()",
                "end",
            ]
        return "\n".join(lines) + "\n" + _DONE


@dataclass(slots=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    raw: str

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def ok_rps(self) -> float:
        """Requests per second answered below 400 (a run's: admitted)."""
        ok = max(0, self.requests - self.status_errors)
        return ok / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Error answers plus socket errors (connect, read, write, timeout)."""
        return self.status_errors + self.socket_errors


def require_wrk() -> str:
    """The wrk binary; a clear message when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed; run: apt-get install -y wrk")
    return found


def run_wrk(
    base_url: str,
    request: Request,
    *,
    duration_s: float,
    connections: int,
    threads: int,
    script_dir: Path,
    name: str,
    timeout_s: float = 5.0,
) -> WrkResult:
    """Run wrk against ``base_url`` with ``request`` and parse its summary."""
    script = script_dir / f"{name}.lua"
    script.write_text(request.lua())
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        "-s",
        str(script),
        base_url,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    raw = done.stdout + done.stderr
    line = next((ln for ln in raw.splitlines() if ln.startswith(MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{raw}")
    data = json.loads(line[len(MARK) :])
    return WrkResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        status_errors=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        raw="\n".join(ln for ln in raw.splitlines() if not ln.startswith(MARK)),
    )
