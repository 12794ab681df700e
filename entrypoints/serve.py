"""Running the HTTP service (one or several processes) and the seed."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys

from aiohttp import web

from entrypoints.config import Settings, configure_logging
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import create_app
from entrypoints.http.server import make_runner
from entrypoints.security import serve_refusal
from entrypoints.seed.run import DEMO_CONSUMER, DEMO_DEVELOPER, SeedReport, seed_catalog, seed_demo

DEMO_ADMIN_UID = "demo-admin"


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """``tarsify serve``: migrate, optionally seed, then serve until SIGINT/SIGTERM."""
    updates: dict[str, object] = {}
    if args.host:
        updates["host"] = args.host
    if args.port:
        updates["port"] = args.port
    if args.no_reconciler:
        updates["reconciler_enabled"] = False
        updates["webhook_delivery_enabled"] = False
    if args.demo:
        updates["demo_sign_in"] = True
    if args.demo and not settings.admin_uid_list and settings.auth_backend == "jwt":
        updates["admin_uids"] = DEMO_ADMIN_UID
    settings = settings.model_copy(update=updates)
    refusal = serve_refusal(settings, demo=args.demo)
    if refusal is not None:
        print(f"tarsify: {refusal}", file=sys.stderr)
        return 2
    if settings.storage_backend == "sql" and not args.no_migrate:
        from adapters.sql.migrate import upgrade

        print("migrating the database ...", flush=True)
        try:
            asyncio.run(upgrade(settings.database_url))
        except Exception as exc:  # the driver's own error types vary; show the cause
            print(f"tarsify: cannot migrate the database: {exc}", file=sys.stderr)
            return 3
    workers = max(1, args.workers)
    if workers == 1:
        asyncio.run(_serve_process(settings, demo=args.demo, reuse_port=False))
        return 0
    if settings.storage_backend == "memory":
        print("tarsify: --workers needs a shared database, not memory://", file=sys.stderr)
        return 2
    if args.demo:
        asyncio.run(run_seed(settings, demo=True))
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(
                settings.model_copy(
                    update={
                        "reconciler_enabled": settings.reconciler_enabled and i == 0,
                        "webhook_delivery_enabled": settings.webhook_delivery_enabled and i == 0,
                    }
                ),
            ),
            daemon=False,
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()

    def _terminate(*_: object) -> None:
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, _terminate)
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()
    return 0


def _worker_main(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(_serve_process(settings, demo=False, reuse_port=True))


async def _serve_process(settings: Settings, *, demo: bool, reuse_port: bool) -> None:
    container = build_container(settings)
    runner = make_runner(create_app(container), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        if demo:
            report = await _seed_with(container, demo=True)
            _print_report(report, settings)
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        await site.start()
        simulated = (
            " (GPU: local simulator, outputs are simulated)"
            if (settings.gpu_provider == "simulator")
            else ""
        )
        print(
            f"tarsify serving on http://{settings.host}:{settings.port} "
            f"[pid {os.getpid()}]{simulated}",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


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
    if settings.storage_backend == "memory":
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
    for env in report.placeholders:
        print(
            f"  ! {env} is not set: its endpoint has a placeholder id (runs stay simulated "
            "or fail at RunPod until it is set)"
        )
    if settings is None or settings.auth_backend != "jwt":
        return
    from adapters.auth.jwt import mint_token

    secret = settings.tarsify_jwt_secret
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
    if DEMO_ADMIN_UID in settings.admin_uid_list:
        admin = mint_token(
            secret,
            "tarsify-developers",
            DEMO_ADMIN_UID,
            "admin@demo.tarsify.local",
            "Demo Admin",
            ttl_s=day,
        )
        print(f"  export ADMIN_TOKEN={admin}")
