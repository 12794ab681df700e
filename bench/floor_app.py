"""The machine's floor: a minimal aiohttp handler doing one primary-key SELECT on asyncpg.

``GET /executions/{id}`` reads one row of ``executions`` through an asyncpg pool and
answers it as JSON. It runs with as many processes as the service (``--workers``, sharing
the port with SO_REUSEPORT), so every scenario can be reported as a ratio to it.
``python -m bench.floor_app --port P --dsn postgresql://... --workers 2``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import uuid
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
QUERY = "SELECT id, status, created_at FROM executions WHERE id = $1"


async def get_row(request: web.Request) -> web.Response:
    """One execution by primary key, or 404."""
    try:
        ident = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    row = await request.app[POOL].fetchrow(QUERY, ident)
    if row is None:
        raise web.HTTPNotFound()
    body = {"id": str(row["id"]), "status": row["status"], "createdAt": row["created_at"]}
    return web.Response(
        body=json.dumps(body, default=str).encode(), content_type="application/json"
    )


async def _keep(_connection: asyncpg.Connection) -> None:
    """A release that sends nothing (the default sends ``RESET ALL``, ``UNLISTEN *``...)."""


def create_app(dsn: str, reset: bool = True) -> web.Application:
    """The floor app over a pool to ``dsn``; without ``reset``, the pool's release sends
    no reset statement (one round trip per request instead of two)."""
    app = web.Application()
    app.router.add_get("/executions/{id}", get_row)

    async def pool(app: web.Application) -> AsyncIterator[None]:
        options = {} if reset else {"reset": _keep}
        app[POOL] = await asyncpg.create_pool(dsn, min_size=2, max_size=10, **options)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    return app


async def _serve(dsn: str, port: int, reset: bool) -> None:
    runner = web.AppRunner(create_app(dsn, reset), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    print(f"floor serving on http://127.0.0.1:{port} [pid {os.getpid()}]", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _worker(dsn: str, port: int, reset: bool = True) -> None:
    asyncio.run(_serve(dsn, port, reset))


def main() -> None:
    """Serve with ``--workers`` processes until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-reset", action="store_true", help="release without a reset")
    args = parser.parse_args()
    reset = not args.no_reset
    if args.workers <= 1:
        _worker(args.dsn, args.port, reset)
        return
    ctx = multiprocessing.get_context("spawn")
    work = (args.dsn, args.port, reset)
    procs = [ctx.Process(target=_worker, args=work) for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in procs])
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
