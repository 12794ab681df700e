"""Benchmark the service's hot paths against the machine's floor; print one table.

``.venv/bin/python -m bench.run`` (see bench/README.md): creates a fresh PostgreSQL
database, starts the fake RunPod, the service (``tarsify serve --workers N``) and the floor
app, loads data, drives each scenario with wrk (64 connections), prints requests/s,
p50/p99 latency, errors and the service's peak RSS, each as a ratio to the floor, then
stops everything and drops the database. ``--quick`` is a fast smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as a file

from bench import dataset
from bench.procs import RssSampler, cpu_delta, cpu_snapshot
from bench.stack import Stack, StackOptions
from bench.wrk import Request, WrkResult, require_wrk, run_wrk

# Ratio to the floor each scenario must reach (requests/s answered 2xx, same run), one
# process or two, in the shipped configuration.
TARGETS: dict[str, float] = {"status": 0.70, "history": 0.40, "marketplace": 0.70, "run": 0.25}
FLOOR, LEAN_FLOOR = "floor", "floor-no-reset"
HISTORY_IMAGES = 20  # image executions run through the API: the history's first page
RSS_LIMIT_MIB = 200.0  # summed over the service's processes
POLL_MAX_DURATION_S = 40.0  # the hanging job times out at the provider after 60 s


@dataclass(slots=True)
class Scenario:
    """One load: a request against the service (or the floor app)."""

    name: str
    request: Request
    floor: bool = False


@dataclass(slots=True)
class Measurement:
    """One scenario in one round."""

    scenario: str
    result: WrkResult
    peak_rss_mib: float
    peak_pss_mib: float
    cpu_ms: float = 0.0  # CPU of the server under load (service or floor) per request
    pg_cpu_ms: float = 0.0  # CPU of the database's backends per request
    foreign_pct: float = 0.0  # CPU used by processes outside the benchmark, % of the machine
    ratio: float | None = None  # admitted requests/s over the floor's
    lean_ratio: float | None = None  # ... over the floor without asyncpg's reset
    provider_calls: int | None = None
    expected_calls: float | None = None
    # The run load: executions seen COMPLETED per second while it ran, the unfinished
    # ones it left, and how long the service took to finish those afterwards.
    completed_per_s: float | None = None
    backlog: int | None = None
    drain_s: float | None = None


@dataclass(slots=True)
class Report:
    """Everything a run measured."""

    started: str
    options: dict[str, Any]
    machine: dict[str, str]
    workers: int = 2
    settings: dict[str, str] = field(default_factory=dict)  # changed from the defaults
    rounds: list[list[Measurement]] = field(default_factory=list)
    final_rss_mib: float = 0.0
    final_pss_mib: float = 0.0
    final_processes: int = 0


def machine() -> dict[str, str]:
    """CPU count, model and memory of this machine."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    pg = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": pg or "?",
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scenarios(catalog: dataset.Catalog, status_id: str) -> list[Scenario]:
    """The measured loads, floor first."""
    run_body = json.dumps({"inputs": dataset.RUN_INPUTS})
    history = catalog.tokens["history"]
    return [
        Scenario(FLOOR, Request(f"/executions/{status_id}"), floor=True),
        Scenario(LEAN_FLOOR, Request(f"/lean/executions/{status_id}"), floor=True),
        Scenario(
            "status", Request(f"/api/consumer/executions/{status_id}", headers=_bearer(history))
        ),
        Scenario("history", Request("/api/consumer/executions", headers=_bearer(history))),
        Scenario("marketplace", Request("/api/marketplace/models")),
        Scenario(
            "run",
            Request(
                f"/api/marketplace/models/{catalog.run_slug}/run",
                "POST",
                {**_bearer(catalog.tokens["run"]), "Content-Type": "application/json"},
                run_body,
                tuple(f"Bearer {token}" for token in catalog.run_tokens),
            ),
        ),
        Scenario("poll-running", Request("", headers=_bearer(catalog.tokens["poll"]))),
    ]  # fmt: skip


def seed(stack: Stack, args: argparse.Namespace) -> tuple[dataset.Catalog, str]:
    """Catalog and users through the API, bulk history by COPY, one COMPLETED execution."""
    started = time.perf_counter()
    catalog = asyncio.run(dataset.create_catalog(stack.service_url, dataset_secret(), args.models))
    others = dataset.consumer_rows(args.consumers)
    asyncio.run(dataset.copy_rows(stack.dsn, "consumers", dataset.CONSUMER_COLUMNS, others))
    catalog.run_tokens = dataset.consumer_tokens(dataset_secret(), args.consumers)
    rows = dataset.execution_rows(
        catalog,
        [row[0] for row in others],
        args.executions,
        measured=catalog.consumers["history"],
        measured_rows=args.history_rows,
    )
    loaded = asyncio.run(
        dataset.copy_rows(stack.dsn, "executions", dataset.EXECUTION_COLUMNS, rows)
    )
    # The measured consumer's newest executions (the history's first page, and the one
    # status reads) are image runs through the API: their outputs are PNG files in the
    # service's file store, shown as signed links.
    images = asyncio.run(_image_runs(stack, catalog, HISTORY_IMAGES))
    status_id = images[-1]
    print(
        f"loaded {len(catalog.model_ids)} models, {args.consumers + 3} consumers, "
        f"{loaded} executions ({args.history_rows} for the measured consumer) "
        f"in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return catalog, status_id


async def _image_runs(stack: Stack, catalog: dataset.Catalog, count: int) -> list[str]:
    gate = asyncio.Semaphore(4)

    async def one() -> str:
        async with gate:
            return await dataset.run_once(
                stack.service_url, catalog, "history", dataset.IMAGE_INPUTS,
                until="COMPLETED", slug=dataset.IMAGE_SLUG,
            )  # fmt: skip

    return list(await asyncio.gather(*(one() for _ in range(count))))


def dataset_secret() -> str:
    """The JWT secret the service was started with."""
    from bench.stack import JWT_SECRET

    return JWT_SECRET


def wait_quiet(stack: Stack, limit_pct: float, timeout_s: float) -> float:
    """Wait (at most ``timeout_s``) until processes outside the benchmark use less than
    ``limit_pct`` % of the machine over one second; returns the last reading."""
    deadline = time.monotonic() + timeout_s
    cores = len(os.sched_getaffinity(0))
    said = 0.0
    while True:
        before = cpu_snapshot(stack.groups(), stack.database)
        time.sleep(1.0)
        used = cpu_delta(before, cpu_snapshot(stack.groups(), stack.database))
        ours = sum(v for k, v in used.items() if k not in ("other", "total"))
        foreign = max(0.0, used["total"] - ours) / cores * 100
        if foreign < limit_pct or time.monotonic() >= deadline:
            return foreign
        if time.monotonic() - said >= 10:
            said = time.monotonic()
            print(f"  waiting: other processes use {foreign:.0f}% of the machine", flush=True)


def measure(
    stack: Stack, scenario: Scenario, args: argparse.Namespace, catalog: dataset.Catalog
) -> Measurement:
    """Warm up, then run wrk while sampling the memory of the process group under load."""
    request = scenario.request
    duration = args.duration
    job_id = ""
    if scenario.name == "run" and stack.options.tuned:
        asyncio.run(_finish_runs(stack))
    if args.quiet_wait > 0:
        # Before the hanging job is made: the fake times it out 60 s after it starts.
        wait_quiet(stack, args.quiet_limit, args.quiet_wait)
    if scenario.name == "poll-running":
        duration = min(duration, POLL_MAX_DURATION_S)
        hanging = asyncio.run(
            dataset.run_once(
                stack.service_url,
                catalog,
                "poll",
                {**dataset.RUN_INPUTS, "simulate": "hang"},
                until="RUNNING",
            )
        )
        request = Request(f"/api/consumer/executions/{hanging}", headers=request.headers)
        job_id = asyncio.run(_job_id(stack, hanging))
    base = stack.floor_url if scenario.floor else stack.service_url
    proc = stack.floor if scenario.floor else stack.service
    assert proc is not None
    common = {"connections": args.connections, "threads": args.threads}
    if args.warmup > 0:
        run_wrk(
            base, request, duration_s=args.warmup, script_dir=stack.log_dir,
            name=f"{scenario.name}-warmup", **common,
        )  # fmt: skip
    before = asyncio.run(stack.fake_calls("status", job_id)) if job_id else 0
    counted = asyncio.run(_counts(stack)) if scenario.name == "run" else None
    groups = stack.groups()
    cpu_before = cpu_snapshot(groups, stack.database)
    with RssSampler(proc.pgid) as sampler:
        result = run_wrk(
            base, request, duration_s=duration, script_dir=stack.log_dir,
            name=scenario.name, **common,
        )  # fmt: skip
    cpu = cpu_delta(cpu_before, cpu_snapshot(groups, stack.database))
    measurement = Measurement(
        scenario.name, result, sampler.peak_kib / 1024, sampler.peak_pss_kib / 1024
    )
    served = max(1, result.requests)
    measurement.cpu_ms = cpu["floor" if scenario.floor else "service"] / served * 1000
    measurement.pg_cpu_ms = cpu["postgres"] / served * 1000
    ours = sum(v for k, v in cpu.items() if k not in ("other", "total"))
    capacity = result.duration_s * len(os.sched_getaffinity(0))
    measurement.foreign_pct = max(0.0, cpu["total"] - ours) / capacity * 100
    if job_id:
        measurement.provider_calls = asyncio.run(stack.fake_calls("status", job_id)) - before
        measurement.expected_calls = result.duration_s / args.poll_interval
    if counted is not None:
        completed, backlog = asyncio.run(_counts(stack))
        measurement.completed_per_s = (completed - counted[0]) / result.duration_s
        measurement.backlog = backlog
        if not stack.options.tuned:
            measurement.drain_s = _drain(stack, args.drain_wait)
    return measurement


UNFINISHED = "('PENDING', 'QUEUED', 'RUNNING')"
COUNTS = f"""SELECT count(*) FILTER (WHERE status = 'COMPLETED'),
    count(*) FILTER (WHERE status IN {UNFINISHED}) FROM executions"""


async def _counts(stack: Stack) -> tuple[int, int]:
    """(COMPLETED, unfinished) executions in the database."""
    import asyncpg

    for attempt in range(10):  # the database is shared: wait out a moment without slots
        try:
            connection = await asyncpg.connect(stack.dsn)
            break
        except asyncpg.TooManyConnectionsError:
            if attempt == 9:
                raise
            await asyncio.sleep(1.0)
    try:
        row = await connection.fetchrow(COUNTS)
    finally:
        await connection.close()
    return int(row[0]), int(row[1])


def _drain(stack: Stack, limit_s: float) -> float:
    """Wait (at most ``limit_s``) until the service has finished every execution the run
    load left unfinished (the reconciler's work); returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if asyncio.run(_counts(stack))[1] == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - started


# The reconciler is off (its polls would load the other scenarios), so nothing ends the
# jobs the run load starts: this stands in for it before each run load, so that no bulk
# consumer has more unfinished executions than the service's default limit lets it have
# (each run counts them) and rounds do not grow them without end.
FINISH_RUNS = f"""UPDATE executions SET status = 'COMPLETED', completed_at = now(),
    updated_at = now()
    WHERE status IN ('PENDING', 'QUEUED', 'RUNNING')
    AND consumer_id IN (SELECT id FROM consumers WHERE uid LIKE '{dataset.BULK_PREFIX}-%')"""


async def _finish_runs(stack: Stack) -> None:
    import asyncpg

    connection = await asyncpg.connect(stack.dsn)
    try:
        await connection.execute(FINISH_RUNS)
        await connection.execute("VACUUM executions")
    finally:
        await connection.close()


async def _job_id(stack: Stack, execution_id: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(stack.dsn)
    try:
        job = await connection.fetchval(
            "SELECT runpod_job_id FROM executions WHERE id = $1::uuid", execution_id
        )
    finally:
        await connection.close()
    if not job:
        raise RuntimeError(f"execution {execution_id} has no provider job")
    return str(job)


# --- output ------------------------------------------------------------------------------


def _row(m: Measurement) -> list[str]:
    r = m.result
    ratio = "" if m.ratio is None else f"{m.ratio:.2f}"
    lean = "" if m.lean_ratio is None else f"{m.lean_ratio:.2f}"
    target = TARGETS.get(m.scenario)
    verdict = ""
    if target is not None and m.ratio is not None:
        verdict = f">= {target:.2f} {'met' if m.ratio >= target else 'NOT met'}"
    if m.completed_per_s is not None:
        verdict += f"; {r.ok_rps:,.0f} admitted/s, {m.completed_per_s:,.0f} completed/s"
        verdict += f", {m.backlog:,} left unfinished"
        if m.drain_s is not None:
            verdict += f" (finished in {m.drain_s:.1f} s)"
    if m.provider_calls is not None and m.expected_calls is not None:
        verdict = f"{m.provider_calls} status calls (<= {m.expected_calls + 1:.0f} allowed)"
        if m.provider_calls < m.expected_calls / 2:
            verdict += ", too few: the job ended early?"
    return [
        m.scenario,
        f"{r.rps:,.0f}",
        f"{r.p50_ms:.2f}",
        f"{r.p99_ms:.2f}",
        str(r.errors),
        f"{m.peak_rss_mib:.0f}",
        ratio,
        lean,
        verdict,
        f"{m.cpu_ms:.2f}",
        f"{m.pg_cpu_ms:.2f}",
        f"{m.foreign_pct:.0f}",
    ]


HEADER = [
    "scenario", "req/s", "p50 ms", "p99 ms", "errors", "peak RSS MiB", "x floor",
    "x floor w/o reset", "target",
    "CPU ms/req", "PG CPU ms/req", "other load %",
]  # fmt: skip


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def median_rows(rounds: list[list[Measurement]]) -> list[Measurement]:
    """Per scenario, the median of each figure over the rounds; errors summed, RSS max."""
    merged = []
    for i, first in enumerate(rounds[0]):
        ms = [rnd[i] for rnd in rounds]
        results = [m.result for m in ms]
        result = WrkResult(
            requests=sum(r.requests for r in results),
            duration_s=sum(r.duration_s for r in results),
            p50_ms=statistics.median(r.p50_ms for r in results),
            p90_ms=statistics.median(r.p90_ms for r in results),
            p99_ms=statistics.median(r.p99_ms for r in results),
            max_ms=max(r.max_ms for r in results),
            status_errors=sum(r.status_errors for r in results),
            socket_errors=sum(r.socket_errors for r in results),
            raw="",
        )
        # Requests/s as the median over rounds, not the pooled rate.
        median_rps = statistics.median(r.rps for r in results)
        result.requests = round(median_rps * result.duration_s)
        ratios = [m.ratio for m in ms if m.ratio is not None]
        leans = [m.lean_ratio for m in ms if m.lean_ratio is not None]
        merged_m = Measurement(
            first.scenario,
            result,
            max(m.peak_rss_mib for m in ms),
            max(m.peak_pss_mib for m in ms),
            statistics.median(m.cpu_ms for m in ms),
            statistics.median(m.pg_cpu_ms for m in ms),
            max(m.foreign_pct for m in ms),
            statistics.median(ratios) if ratios else None,
            statistics.median(leans) if leans else None,
        )
        if first.completed_per_s is not None:
            merged_m.completed_per_s = statistics.median(m.completed_per_s or 0 for m in ms)
            merged_m.backlog = max(m.backlog or 0 for m in ms)
            drains = [m.drain_s for m in ms if m.drain_s is not None]
            merged_m.drain_s = max(drains) if drains else None
        if first.provider_calls is not None:
            merged_m.provider_calls = max(m.provider_calls or 0 for m in ms)
            expected = [m.expected_calls for m in ms if m.expected_calls is not None]
            merged_m.expected_calls = max(expected) if expected else None
        merged.append(merged_m)
    return merged


def render(report: Report) -> str:
    """The report as markdown: median table, per-round tables, memory, raw wrk output."""
    opts = report.options
    lines = [
        f"Run of {report.started} — {opts['repeat']} round(s) of {opts['duration']:g} s per "
        f"scenario after {opts['warmup']:g} s warm-up, {opts['connections']} connections, "
        f"{report.workers} service/floor process(es).",
        "",
        "Configuration: "
        + (
            "the tuned variant (not what `tarsify serve` does by default), settings changed: "
            + ", ".join(f"`{k}={v}`" for k, v in report.settings.items())
            + "; before each run load the bench marks the bulk consumers' unfinished "
            "executions COMPLETED in the database."
            if opts.get("tuned")
            else "shipped defaults (INFO logs, reconciler on, default poll intervals and "
            "limits, filesystem file store), settings changed: "
            + (", ".join(f"`{k}={v}`" for k, v in report.settings.items()) or "none")
            + " (every load comes from one address: the per-address limit of the open "
            "routes is still counted on every request, never reached)."
        )
        + " Status and history show image executions (PNG files, signed links); run "
        "rotates the bulk consumers and counts admitted (2xx) answers only.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in report.machine.items()),
        "",
    ]
    med = median_rows(report.rounds)
    title = "Median of the rounds" if len(report.rounds) > 1 else "Result"
    lines += [f"**{title}**", "", markdown_table([_row(m) for m in med]), ""]
    lines.append(
        f"Service memory after the whole run: RSS {report.final_rss_mib:.0f} MiB "
        f"(PSS {report.final_pss_mib:.0f} MiB) over {report.final_processes} processes "
        f"(limit {RSS_LIMIT_MIB:.0f} MiB: "
        f"{'met' if report.final_rss_mib < RSS_LIMIT_MIB else 'NOT met'}); "
        f"peak PSS under load {max(m.peak_pss_mib for m in med if m.scenario != 'floor'):.0f} "
        "MiB."
    )
    lines.append("")
    if len(report.rounds) > 1:
        for n, rnd in enumerate(report.rounds, 1):
            lines += [f"Round {n}", "", markdown_table([_row(m) for m in rnd]), ""]
    lines += ["<details><summary>raw wrk output</summary>", ""]
    for n, rnd in enumerate(report.rounds, 1):
        for m in rnd:
            lines += [f"round {n}, {m.scenario}:", "", "```", m.result.raw.strip(), "```", ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers",
        default="1,2",
        help="service and floor processes; a comma-separated list runs one stack each",
    )
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="the tuned variant of earlier rounds (WARNING logs, reconciler off, ...) "
        "instead of the shipped defaults",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="the status poll interval (tuned)"
    )
    parser.add_argument(
        "--drain-wait",
        type=float,
        default=120.0,
        help="after a run load, wait up to this long for its executions to finish",
    )
    parser.add_argument("--models", type=int, default=40, help="published models (via the API)")
    parser.add_argument(
        "--consumers", type=int, default=4000, help="other consumers (COPY): the run load's"
    )
    parser.add_argument("--executions", type=int, default=50_000, help="executions (COPY)")
    parser.add_argument("--history-rows", type=int, default=1_000, help="of the measured one")
    parser.add_argument("--only", help="comma-separated scenarios to run (floor always runs)")
    parser.add_argument("--reconciler", action="store_true", help="tuned: run the reconciler")
    parser.add_argument(
        "--tarsify", type=Path, help="serve with this tarsify executable (another install)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each scenario, wait up to this many seconds for other processes to go "
        "quiet (0: do not wait)",
    )
    parser.add_argument("--quiet-limit", type=float, default=10.0, help="%% of the machine")
    parser.add_argument("--report", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON here")
    parser.add_argument("--hold", action="store_true", help="wait for Enter before cleanup")
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="serve through a PgBouncer in transaction mode (DATABASE_POOLER=transaction)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s, small data"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.repeat, args.quiet_wait = 3.0, 1.0, 1, 0.0
        args.executions, args.consumers, args.models = 5_000, 1_000, 10
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each process count; exit 1 when a target is missed."""
    args = parse_args(argv)
    require_wrk()
    reports = [run_stack(args, int(w)) for w in str(args.workers).split(",")]
    texts = [render(report) for report in reports]
    for text in texts:
        print("\n" + text.split("<details>")[0])
    if args.report:
        args.report.write_text("\n".join(texts))
    if args.json:
        args.json.write_text(json.dumps([_figures(r) for r in reports], indent=2))
    return 0 if all(_targets_met(r) for r in reports) else 1


def run_stack(args: argparse.Namespace, workers: int) -> Report:
    """One stack with ``workers`` service and floor processes, every round of it."""
    report = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        options={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        machine=machine(),
        workers=workers,
    )
    options = StackOptions(
        workers,
        args.tuned,
        args.poll_interval,
        args.reconciler,
        tarsify=args.tarsify,
        pgbouncer=args.pgbouncer,
    )
    with Stack(options) as stack:
        report.settings = stack.changed_settings()
        catalog, status_id = seed(stack, args)
        chosen = scenarios(catalog, status_id)
        if args.only:
            wanted = {FLOOR, LEAN_FLOOR, *args.only.split(",")}
            chosen = [s for s in chosen if s.name in wanted]
        for n in range(args.repeat):
            measurements: list[Measurement] = []
            for scenario in chosen:
                print(f"{workers} process(es), round {n + 1}: {scenario.name} ...", flush=True)
                m = measure(stack, scenario, args, catalog)
                measurements.append(m)
                print("  " + " | ".join(_row(m)), flush=True)
            floor = next(m for m in measurements if m.scenario == FLOOR).result.rps
            lean = next(m for m in measurements if m.scenario == LEAN_FLOOR).result.rps
            for m in measurements:
                m.ratio = m.result.ok_rps / floor if floor else None
                m.lean_ratio = m.result.ok_rps / lean if lean else None
            report.rounds.append(measurements)
        time.sleep(1.0)
        report.final_rss_mib, report.final_pss_mib, report.final_processes = (
            stack.service_memory_mib()
        )
        if args.hold:
            input(f"service at {stack.service_url}; Enter to stop ")
    return report


def _figures(report: Report) -> dict[str, Any]:
    def one(m: Measurement) -> dict[str, Any]:
        r = m.result
        return {
            "scenario": m.scenario, "rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            "errors": r.errors, "peak_rss_mib": m.peak_rss_mib, "peak_pss_mib": m.peak_pss_mib,
            "ratio": m.ratio, "lean_ratio": m.lean_ratio, "ok_rps": r.ok_rps,
            "completed_per_s": m.completed_per_s, "backlog": m.backlog, "drain_s": m.drain_s,
            "cpu_ms": m.cpu_ms, "pg_cpu_ms": m.pg_cpu_ms,
            "foreign_pct": m.foreign_pct, "provider_calls": m.provider_calls,
            "expected_calls": m.expected_calls,
        }  # fmt: skip

    return {
        "started": report.started,
        "workers": report.workers,
        "settings": report.settings,
        "machine": report.machine,
        "options": report.options,
        "rounds": [[one(m) for m in rnd] for rnd in report.rounds],
        "median": [one(m) for m in median_rows(report.rounds)],
        "final_rss_mib": report.final_rss_mib,
        "final_pss_mib": report.final_pss_mib,
    }


def _targets_met(report: Report) -> bool:
    med = median_rows(report.rounds)
    ok = report.final_rss_mib < RSS_LIMIT_MIB
    for m in med:
        # The run load's 429s (a consumer at the active-executions limit) are answers.
        ok = ok and (m.result.errors == 0 or m.scenario == "run")
        target = TARGETS.get(m.scenario)
        if target is not None and m.ratio is not None:
            ok = ok and m.ratio >= target
        if m.provider_calls is not None and m.expected_calls is not None:
            ok = ok and m.expected_calls / 2 <= m.provider_calls <= m.expected_calls + 1
    return ok


if __name__ == "__main__":
    sys.exit(main())
