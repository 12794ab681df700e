"""Every server connection of the service's database terminated under load (what a
PostgreSQL restart, a failover or an idle-connection reaper does): no answer is a 500,
and the service serves again at once."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapters.sql.engine import create_engine
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.contract.conftest import empty_all
from tests.pg import ADMIN_DSN
from tests.pgbouncer import pgbouncer, through

from .conftest import ClientFactory, make_settings
from .support import Api, seed, tokens

pytestmark = pytest.mark.postgres
STORMS = 6
CLIENTS = 12


async def terminate_every_backend(database: str) -> int:
    """``pg_terminate_backend`` on every connection to ``database``; how many."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return killed
    finally:
        await admin.close()


@pytest.fixture(params=["direct", "pgbouncer"])
async def service_url(request: pytest.FixtureRequest, pg_url: str) -> AsyncIterator[dict[str, Any]]:
    """The service's database settings (on an emptied database): the server itself, or
    through a PgBouncer in transaction mode (whose server connections are the ones
    terminated)."""
    engine = create_engine(pg_url)
    await empty_all(engine)
    await engine.dispose()
    if request.param == "direct":
        yield {"database_url": pg_url}
        return
    with pgbouncer(pool_size=6) as port:
        yield {
            "database_url": through(pg_url, port),
            "database_pooler": "transaction",
            "database_direct_url": pg_url,
        }


async def test_terminated_backends_are_never_a_500(
    pg_url: str, service_url: dict[str, Any], tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    settings = make_settings(
        **service_url,
        db_pool_size=6,  # a lane of 5 and 1 for transactions
        blob_store="filesystem",
        blob_filesystem_root=str(tmp_path),
        max_active_executions=10_000,
    )
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    world = await seed(api)
    run_path = f"/api/marketplace/models/{world.slug}/run"
    first = await api.ok("POST", run_path, "consumer_a", {"inputs": {"prompt": "x"}}, 202)
    reads = [
        ("GET", "/api/consumer/executions", "consumer_a", None),
        ("GET", f"/api/consumer/executions/{first['id']}", "consumer_a", None),
        ("GET", "/api/marketplace/models", None, None),
        ("GET", f"/api/marketplace/models/{world.slug}", None, None),
        ("POST", run_path, "consumer_b", {"inputs": {"prompt": "y"}}),
    ]
    statuses: collections.Counter[int] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    retry_after_missing = 0
    storming = True

    async def client(n: int) -> None:
        nonlocal retry_after_missing
        i = n
        while storming:
            method, path, who, body = reads[i % len(reads)]
            i += 1
            reply = await api.call(method, path, who, body)
            statuses[reply.status] += 1
            if reply.status >= 500:
                codes[reply.body["error"]["code"] if reply.body else reply.text] += 1
                retry_after_missing += "Retry-After" not in reply.headers

    database = make_url(pg_url).database
    assert database is not None
    clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
    killed = 0
    try:
        for _ in range(STORMS):
            await asyncio.sleep(0.15)
            killed += await terminate_every_backend(database)
        await asyncio.sleep(0.15)
    finally:
        storming = False
        await asyncio.gather(*clients)
    assert killed >= STORMS  # every storm found connections to end
    assert set(statuses) <= {200, 202, 503}, (statuses, codes)
    assert set(codes) <= {"ERR_5002"}, codes
    assert retry_after_missing == 0
    assert statuses[200] + statuses[202] > 0
    # The next request after the storm succeeds, read and run alike.
    await api.ok("GET", "/api/consumer/executions", "consumer_a")
    await api.ok("POST", run_path, "consumer_a", {"inputs": {"prompt": "z"}}, 202)
