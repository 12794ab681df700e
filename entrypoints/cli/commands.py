"""``tarsify``: serve the API, run the reconciler, migrate, seed, check the ledger, mint
development tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from entrypoints.config import Settings, config_problems, configure_logging
from tarsify.domain.errors import StorageError

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(f"tarsify: invalid configuration: {'; '.join(config_problems(exc))}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarsify",
        description="Tarsify: a marketplace API for GPU AI models. Configuration comes from "
        "the environment (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the HTTP API (and the reconciler)")
    serve.add_argument("--host", help="bind address (default: HOST)")
    serve.add_argument("--port", type=int, help="port (default: PORT)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    serve.add_argument(
        "--no-reconciler",
        action="store_true",
        help="no in-process reconciler or webhook delivery (run `tarsify worker` for them)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="seed the catalog and demo users, print tokens"
    )

    sub.add_parser("worker", help="run the reconciler and the webhook delivery (no HTTP)")

    outputs = sub.add_parser("outputs", help="output files")
    outputs_sub = outputs.add_subparsers(dest="outputs_command", required=True, metavar="ACTION")
    outputs_sub.add_parser(
        "offload",
        help="move files still inline in stored outputs into the file store "
        "(idempotent; safe to stop and run again)",
    )
    sub.add_parser("check", help="validate the configuration for production; exit 1 on any problem")

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead")

    ledger = sub.add_parser("ledger", help="the credits ledger")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    ledger_sub.add_parser(
        "check",
        help="rebuild every balance from the ledger and compare; exit 1 on any difference",
    )

    seed = sub.add_parser("seed", help="register the RunPod endpoints and base models")
    seed.add_argument("--demo", action="store_true", help="also demo users and models, tokens")

    token = sub.add_parser("token", help="print a development JWT (AUTH_BACKEND=jwt)")
    token.add_argument("--audience", choices=["consumers", "developers"], required=True)
    token.add_argument("--uid", required=True)
    token.add_argument("--email", required=True)
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="seconds (default: 1 day)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "token":
        return _token(args)
    if args.command == "check":
        from entrypoints.cli.check import run_check

        configure_logging("WARNING", "console")
        return asyncio.run(run_check())
    settings = _settings()
    if args.command in ("serve", "worker"):
        configure_logging(settings.logging.level, settings.logging.format)
    else:
        # One-shot commands print their own progress; logs would only repeat it.
        configure_logging("WARNING", "console")
        logging.getLogger("tarsify.storage").setLevel(logging.CRITICAL)
    try:
        if args.command == "serve":
            from entrypoints.process.serve import serve

            return serve(settings, args)
        if args.command == "worker":
            return asyncio.run(_worker(settings))
        if args.command == "outputs":
            from entrypoints.cli.outputs import offload_outputs

            return asyncio.run(offload_outputs(settings))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings, args.revision, args.downgrade))
        if args.command == "ledger":
            from entrypoints.cli.ledger import run_ledger_check

            return asyncio.run(run_ledger_check(settings))
        if args.command == "seed":
            from entrypoints.process.serve import run_seed

            return asyncio.run(run_seed(settings, demo=args.demo))
    except StorageError as exc:
        print(f"tarsify: database unavailable: {_root_cause(exc)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of ``exc``, as ``Type: message``."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def _token(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.auth.backend != "jwt":
        print("tarsify: tokens can only be minted with AUTH_BACKEND=jwt", file=sys.stderr)
        return EXIT_USAGE
    from adapters.auth.jwt import mint_token

    audience = f"tarsify-{args.audience}"
    print(
        mint_token(
            settings.auth.jwt_secret, audience, args.uid, args.email, args.name, ttl_s=args.ttl
        )
    )
    return 0


async def _migrate(settings: Settings, revision: str, downgrade_to: str | None) -> int:
    if settings.database.storage_backend == "memory":
        print("tarsify: nothing to migrate for a memory:// database")
        return 0
    from adapters.sql.migrate import current, downgrade, upgrade

    url, pooled = settings.database.url, settings.database.pooled
    try:
        if downgrade_to:
            print(f"downgrading to {downgrade_to} ...", flush=True)
            await downgrade(url, downgrade_to, pooled=pooled)
        else:
            print(f"migrating to {revision} ...", flush=True)
            await upgrade(url, revision, pooled=pooled)
        print(f"database at revision {await current(url, pooled=pooled)}")
    except Exception as exc:  # alembic and drivers raise many types; the cause is printed
        print(f"tarsify: migration failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


async def _worker(settings: Settings) -> int:
    from entrypoints.container import build_container, resolve
    from entrypoints.security import worker_refusal

    refusal = worker_refusal(settings)
    if refusal is not None:
        print(f"tarsify: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    from entrypoints.http.app import start_background, stop_background

    # The worker is where the background work runs, whatever the HTTP processes do.
    settings = settings.with_variables(RECONCILER_ENABLED=True)
    container = build_container(settings)
    await resolve(container.init_resources)
    try:
        background = await start_background(container)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        what = "reconciler" + (
            " and webhook delivery" if settings.webhooks.delivery_enabled else ""
        )
        print(f"{what} running; Ctrl-C to stop", flush=True)
        await stop.wait()
        await stop_background(background)
    finally:
        await resolve(container.shutdown_resources)
    return 0


if __name__ == "__main__":
    sys.exit(main())
