"""Memory of ``tarsify serve --workers N``: every process's RSS, after start and after load.

``.venv/bin/python -m bench.memory [--workers 2] [--duration 5]`` (see bench/README.md):
starts the fake RunPod and the service like ``bench.run`` (no floor app), creates a small
catalog, reads the RSS and PSS of each process of the service's process group, drives
status, history, marketplace and run loads with wrk for ``--duration`` seconds each, and
reads them again. Exits 1 when the summed RSS after the load is over ``--limit`` MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from bench import dataset
from bench.procs import _kib, group_pids
from bench.stack import JWT_SECRET, Stack, StackOptions
from bench.wrk import Request, require_wrk, run_wrk

LIMIT_MIB = 200.0


def processes(pgid: int) -> list[tuple[int, str, float, float]]:
    """(pid, command, RSS MiB, PSS MiB) of every process of the group."""
    found = []
    for pid in sorted(group_pids(pgid)):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
        rss = _kib(f"/proc/{pid}/status", "VmRSS:") / 1024
        pss = _kib(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024
        found.append((pid, command[:90], rss, pss))
    return found


def show(title: str, rows: list[tuple[int, str, float, float]]) -> float:
    """Print one snapshot; returns the summed RSS in MiB."""
    total_rss = sum(r[2] for r in rows)
    total_pss = sum(r[3] for r in rows)
    print(f"\n{title}: RSS {total_rss:.0f} MiB, PSS {total_pss:.0f} MiB, {len(rows)} processes")
    for pid, command, rss, pss in rows:
        print(f"  {pid:>7}  RSS {rss:6.1f}  PSS {pss:6.1f}  {command}")
    return total_rss


def loads(catalog: dataset.Catalog, status_id: str) -> list[tuple[str, Request]]:
    """The requests driven between the two snapshots."""
    auth = {"Authorization": f"Bearer {catalog.tokens['history']}"}
    run_headers = {
        "Authorization": f"Bearer {catalog.tokens['run']}",
        "Content-Type": "application/json",
    }
    run_body = json.dumps({"inputs": dataset.RUN_INPUTS})
    run_path = f"/api/marketplace/models/{catalog.run_slug}/run"
    return [
        ("status", Request(f"/api/consumer/executions/{status_id}", headers=auth)),
        ("history", Request("/api/consumer/executions", headers=auth)),
        ("marketplace", Request("/api/marketplace/models")),
        ("run", Request(run_path, "POST", run_headers, run_body)),
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure; exit 1 when the summed RSS after the load exceeds the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load")
    parser.add_argument("--limit", type=float, default=LIMIT_MIB, help="MiB, summed RSS")
    parser.add_argument(
        "--tarsify",
        type=Path,
        help="the tarsify executable of the install to measure (default: this venv's)",
    )
    args = parser.parse_args(argv)
    require_wrk()
    options = StackOptions(workers=args.workers, floor=False, tarsify=args.tarsify)
    with Stack(options) as stack:
        assert stack.service is not None
        pgid = stack.service.pgid
        time.sleep(1.0)
        show("after start", processes(pgid))
        catalog = asyncio.run(dataset.create_catalog(stack.service_url, JWT_SECRET, 20))
        status_id = asyncio.run(
            dataset.run_once(
                stack.service_url, catalog, "history", dataset.RUN_INPUTS, until="COMPLETED"
            )
        )
        scripts = Path(tempfile.mkdtemp(prefix="tarsify-memory-"))
        for name, request in loads(catalog, status_id):
            result = run_wrk(
                stack.service_url,
                request,
                duration_s=args.duration,
                connections=64,
                threads=2,
                script_dir=scripts,
                name=name,
            )
            print(f"load {name}: {result.rps:,.0f} req/s, {result.errors} errors", flush=True)
        time.sleep(1.0)
        total = show("after the load", processes(pgid))
    verdict = "met" if total <= args.limit else "NOT met"
    print(f"\nsummed RSS {total:.0f} MiB (limit {args.limit:.0f} MiB: {verdict})")
    return 0 if total <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
