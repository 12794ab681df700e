"""The machine's floor: a minimal aiohttp handler doing one primary-key SELECT on asyncpg.

``GET /executions/{id}`` reads one row of ``executions`` through an asyncpg pool and
answers it as JSON (``GET /lean/executions/{id}``: the same through a pool whose release
sends no reset statement). It runs with as many processes as the service (``--workers``, sharing
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
LEAN_POOL = web.AppKey("lean_pool", asyncpg.Pool)
QUERY = "SELECT id, status, created_at FROM executions WHERE id = $1"


async def get_row(request: web.Request) -> web.Response:
    """One execution by primary key, or 404."""
    return await _answer(request, request.app[POOL])


async def get_row_lean(request: web.Request) -> web.Response:
    """The same through the pool that releases without a reset statement."""
    return await _answer(request, request.app[LEAN_POOL])


async def _answer(request: web.Request, pool: asyncpg.Pool) -> web.Response:
    try:
        ident = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    row = await pool.fetchrow(QUERY, ident)
    if row is None:
        raise web.HTTPNotFound()
    body = {"id": str(row["id"]), "status": row["status"], "createdAt": row["created_at"]}
    return web.Response(
        body=json.dumps(body, default=str).encode(), content_type="application/json"
    )


async def _keep(_connection: asyncpg.Connection) -> None:
    """A release that sends nothing (the default sends ``RESET ALL``, ``UNLISTEN *``...)."""


def create_app(dsn: str) -> web.Application:
    """The floor app over two pools to ``dsn``: ``/executions/{id}`` through asyncpg's
    default pool, whose release sends its reset statement (two round trips per request),
    and ``/lean/executions/{id}`` through one that releases without it (one round trip)."""
    app = web.Application()
    app.router.add_get("/executions/{id}", get_row)
    app.router.add_get("/lean/executions/{id}", get_row_lean)

    async def pool(app: web.Application) -> AsyncIterator[None]:
        # The database is shared: a pool's connections beyond one are closed after 5 s
        # idle, so the floor holds ~10 per process under load, as with one pool.
        idle = {"min_size": 1, "max_size": 10, "max_inactive_connection_lifetime": 5.0}
        app[POOL] = await asyncpg.create_pool(dsn, **idle)
        app[LEAN_POOL] = await asyncpg.create_pool(dsn, reset=_keep, **idle)
        yield
        await app[POOL].close()
        await app[LEAN_POOL].close()

    app.cleanup_ctx.append(pool)
    return app


async def _serve(dsn: str, port: int) -> None:
    runner = web.AppRunner(create_app(dsn), access_log=None, handle_signals=False)
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


def _worker(dsn: str, port: int) -> None:
    asyncio.run(_serve(dsn, port))


def main() -> None:
    """Serve with ``--workers`` processes until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.workers <= 1:
        _worker(args.dsn, args.port)
        return
    ctx = multiprocessing.get_context("spawn")
    work = (args.dsn, args.port)
    procs = [ctx.Process(target=_worker, args=work) for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in procs])
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
