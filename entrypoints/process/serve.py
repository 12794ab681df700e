"""Running the HTTP service (one or several processes) and the seed."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from aiohttp import web

from adapters.metrics.registry import MULTIPROCESS_DIR_ENV
from entrypoints.config import Settings
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import create_app
from entrypoints.http.server import make_runner
from entrypoints.process import supervisor
from entrypoints.process.preflight import port_problem, start_problems
from entrypoints.security import serve_refusal
from entrypoints.seed.run import (
    DEMO_CONSUMER,
    DEMO_DEVELOPER,
    SeedReport,
    seed_catalog,
    seed_demo,
)

DEMO_ADMIN_UID = "demo-admin"


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """``tarsify serve``: migrate, optionally seed, then serve until SIGINT/SIGTERM."""
    updates: dict[str, object] = {}
    if args.host:
        updates["HOST"] = args.host
    if args.port:
        updates["PORT"] = args.port
    if args.no_reconciler:
        updates["RECONCILER_ENABLED"] = False
        updates["WEBHOOK_DELIVERY_ENABLED"] = False
    if args.demo:
        updates["DEMO_SIGN_IN"] = True
    if args.demo and not settings.auth.admin_uid_list and settings.auth.backend == "jwt":
        updates["ADMIN_UIDS"] = DEMO_ADMIN_UID
    settings = settings.with_variables(**updates)
    refusal = serve_refusal(settings, demo=args.demo) or _start_problem(settings)
    if refusal is not None:
        print(f"tarsify: {refusal}", file=sys.stderr)
        return 2
    if settings.database.storage_backend == "sql" and not args.no_migrate:
        from adapters.sql.migrate import upgrade

        print("migrating the database ...", flush=True)
        try:
            asyncio.run(upgrade(settings.database.url, pooled=settings.database.pooled))
        except Exception as exc:  # the driver's own error types vary; show the cause
            print(f"tarsify: cannot migrate the database: {exc}", file=sys.stderr)
            return 3
    workers = max(1, args.workers)
    if workers == 1:
        try:
            asyncio.run(serve_process(settings, demo=args.demo, reuse_port=False))
        except CannotListen as exc:
            print(f"tarsify: {exc}", file=sys.stderr)
            return 2
        return 0
    if settings.database.storage_backend == "memory":
        print("tarsify: --workers needs a shared database, not memory://", file=sys.stderr)
        return 2
    if args.demo:
        asyncio.run(run_seed(settings, demo=True))
    _become_supervisor(settings, workers)


def _start_problem(settings: Settings) -> str | None:
    """Why this process could not serve, found before anything is migrated or seeded:
    the port is taken, or a directory it writes cannot be written."""
    problem = port_problem(settings.server.host, settings.server.port)
    if problem is not None:
        return problem
    blob_root = (
        Path(settings.files.filesystem_root) if settings.files.store == "filesystem" else None
    )
    database_url = (
        settings.database.url if settings.database.storage_backend == "sql" else "memory://"
    )
    problems = start_problems(database_url, blob_root)
    return "; ".join(problems) if problems else None


class CannotListen(Exception):
    """The server's address could not be bound (taken since it was checked)."""


def _worker_overrides(settings: Settings) -> dict[str, object]:
    """What the workers must take from this process's settings, by variable (the rest is
    the environment they inherit, read the same way)."""
    return {
        "HOST": settings.server.host,
        "PORT": settings.server.port,
        "ADMIN_UIDS": settings.auth.admin_uids,
        "DEMO_SIGN_IN": settings.auth.demo_sign_in,
    }


def _become_supervisor(settings: Settings, workers: int) -> NoReturn:
    """Replace this process (its pid, its group) with the supervisor of ``workers``
    fresh worker processes: what was imported to migrate and seed is dropped at once."""
    overrides = _worker_overrides(settings)
    env = {k: v for k, v in os.environ.items() if k.upper() not in overrides}
    for name, value in overrides.items():
        env[name] = str(value)
    # A bare interpreter (-I -S: no site-packages, no environment) runs the file: the
    # supervisor needs nothing beyond the standard library.
    env[MULTIPROCESS_DIR_ENV] = env[supervisor.OWNED_DIR_ENV] = tempfile.mkdtemp(
        prefix="tarsify-metrics-"
    )  # the workers' metrics, added up at each scrape; removed by the supervisor at exit
    argv = [sys.executable, "-I", "-S", supervisor.__file__, sys.executable, str(workers)]
    if settings.engine.reconciler_enabled:
        argv.append("--reconciler")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


async def serve_process(settings: Settings, *, demo: bool, reuse_port: bool) -> None:
    """Serve ``settings``'s app in this process until SIGINT or SIGTERM."""
    container = build_container(settings)
    runner = make_runner(create_app(container), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        if demo:
            report = await _seed_with(container, demo=True)
            _print_report(report, settings)
        site = web.TCPSite(
            runner, settings.server.host, settings.server.port, reuse_port=reuse_port or None
        )
        try:
            await site.start()
        except OSError as exc:
            where = f"{settings.server.host}:{settings.server.port}"
            raise CannotListen(f"cannot listen on {where}: {exc.strerror or exc}") from None
        simulated = (
            " (GPU: local simulator, outputs are simulated)"
            if (settings.gpu.provider == "simulator")
            else ""
        )
        print(
            f"tarsify serving on http://{settings.server.host}:{settings.server.port} "
            f"[pid {os.getpid()}]{simulated}",
            flush=True,
        )
        if demo:
            _print_demo_banner(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _print_demo_banner(settings: Settings) -> None:
    """What a newcomer does next: open the pages, sign in with one click, run a model."""
    host = f"[{settings.server.host}]" if ":" in settings.server.host else settings.server.host
    print(
        f"\n  Open http://{host}:{settings.server.port}/ in a browser, press Sign in, then\n"
        "  Sign in as the demo consumer, open a model and press Run.\n"
        "  Or use the API with the tokens above (README.md, Walkthrough).\n"
        "  Ctrl-C stops the server.\n",
        flush=True,
    )


async def _seed_with(container: Container, *, demo: bool) -> SeedReport:
    report = SeedReport()
    catalog = await resolve(container.catalog_service)
    await seed_catalog(catalog, os.environ, report, progress=lambda m: print(f"  seed: {m}"))
    if demo:
        await seed_demo(
            await resolve(container.account_service),
            catalog,
            await resolve(container.studio_service),
            report,
            await resolve(container.credits_service),
        )
    return report


async def run_seed(settings: Settings, *, demo: bool) -> int:
    """``tarsify seed``: register the catalog (idempotent) on the configured database."""
    if settings.database.storage_backend == "memory":
        print(
            "tarsify: seeding memory:// is pointless; use `tarsify serve --demo`", file=sys.stderr
        )
        return 2
    container = build_container(settings)
    await resolve(container.init_resources)
    try:
        report = await _seed_with(container, demo=demo)
    finally:
        await resolve(container.shutdown_resources)
    _print_report(report, settings if demo else None)
    return 0


def _print_report(report: SeedReport, settings: Settings | None) -> None:
    print(
        f"seed: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    for name in report.created + report.updated:
        print(f"  + {name}")
    for name in report.skipped:
        print(f"  - {name}")
    for env in report.placeholders:
        print(
            f"  ! {env} is not set: its endpoint has a placeholder id (runs stay simulated "
            "or fail at RunPod until it is set)"
        )
    if settings is None or settings.auth.backend != "jwt":
        return
    from adapters.auth.jwt import mint_token

    secret = settings.auth.jwt_secret
    day = 24 * 3600
    print("demo tokens (valid 24 h):")
    consumer = mint_token(
        secret,
        "tarsify-consumers",
        DEMO_CONSUMER.uid,
        DEMO_CONSUMER.email,
        DEMO_CONSUMER.name,
        ttl_s=day,
    )
    developer = mint_token(
        secret,
        "tarsify-developers",
        DEMO_DEVELOPER.uid,
        DEMO_DEVELOPER.email,
        DEMO_DEVELOPER.name,
        ttl_s=day,
    )
    print(f"  export CONSUMER_TOKEN={consumer}")
    print(f"  export DEVELOPER_TOKEN={developer}")
    if DEMO_ADMIN_UID in settings.auth.admin_uid_list:
        admin = mint_token(
            secret,
            "tarsify-developers",
            DEMO_ADMIN_UID,
            "admin@demo.tarsify.local",
            "Demo Admin",
            ttl_s=day,
        )
        print(f"  export ADMIN_TOKEN={admin}")
