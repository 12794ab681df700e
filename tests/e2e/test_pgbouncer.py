"""The end-to-end flow through a real PgBouncer in transaction pooling mode
(``DATABASE_POOLER=transaction``), next to the same flow on a direct connection: the
migrations, run, poll, cancel, history and the event stream (LISTEN over
``DATABASE_DIRECT_URL``; polling without it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapters.memory.feed import InProcessFeed
from adapters.sql.engine import create_engine
from adapters.sql.feed import PostgresFeed
from adapters.sql.migrate import current, head, upgrade
from entrypoints.config import Settings
from entrypoints.container import Container
from tests.contract.conftest import empty_all
from tests.pg import ADMIN_DSN, create_test_database, drop_test_database, require_postgres
from tests.pgbouncer import pgbouncer, through

from .conftest import make_settings
from .receivers import wait_until
from .sse import statuses_until_end
from .support import Api, World
from .test_flow import test_full_flow  # noqa: F401  (run here once per connection kind)

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bouncer() -> Iterator[int]:
    """A PgBouncer (transaction pooling) on a free loopback port."""
    require_postgres()
    with pgbouncer(pool_size=5) as port:
        yield port


@pytest.fixture(scope="module")
def pg_url(bouncer: int) -> Iterator[str]:
    """A database migrated through PgBouncer (the direct URL is yielded)."""
    url = asyncio.run(create_test_database())
    try:
        asyncio.run(upgrade(through(url, bouncer), pooled=True))
        yield url
    finally:
        asyncio.run(drop_test_database(url))


@pytest.fixture(params=["direct", "pgbouncer"])
async def settings(request: pytest.FixtureRequest, pg_url: str, bouncer: int) -> Settings:
    """The service on the database directly, or through PgBouncer (LISTEN direct)."""
    engine = create_engine(pg_url)
    await empty_all(engine)
    await engine.dispose()
    common = {"db_pool_size": 4, "blob_store": "filesystem"}
    if request.param == "direct":
        return make_settings(database_url=pg_url, **common)
    return make_settings(
        database_url=through(pg_url, bouncer),
        database_pooler="transaction",
        database_direct_url=pg_url,
        **common,
    )


async def test_migrated_through_pgbouncer(pg_url: str, bouncer: int) -> None:
    assert await current(through(pg_url, bouncer), pooled=True) == head()


async def test_cancel_and_the_event_stream(api: Api, world: World, container: Container) -> None:
    feed = container.execution_feed()
    assert isinstance(feed, PostgresFeed)
    await wait_until(feed.listening.is_set, "the feed to LISTEN")
    container.simulator_engine().hang_next()
    run = f"/api/marketplace/models/{world.slug}/run"
    started = await api.ok("POST", run, "consumer_a", {"inputs": {"prompt": "x"}}, 202)
    path = f"/api/consumer/executions/{started['id']}"
    headers = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    async with api.client.get(f"{path}/events", headers=headers) as response:
        assert response.status == 200
        await api.ok("POST", f"{path}/cancel", "consumer_a")
        statuses = await statuses_until_end(response)
    assert statuses[-1] == "CANCELLED"
    history = await api.ok("GET", "/api/consumer/executions?status=CANCELLED", "consumer_a")
    assert [e["id"] for e in history] == [started["id"]]


async def test_without_a_direct_url_streams_poll(pg_url: str, bouncer: int) -> None:
    from entrypoints.container.storage import make_execution_feed

    settings = make_settings(database_url=through(pg_url, bouncer), database_pooler="transaction")
    feed = make_execution_feed(settings)
    assert isinstance(feed, InProcessFeed) and feed.poll_s == settings.events.poll_interval


def test_the_cli_through_pgbouncer(pg_url: str, bouncer: int, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": through(pg_url, bouncer),
        "DATABASE_POOLER": "transaction",
        "LOG_LEVEL": "WARNING",
    }
    for command in (["migrate"], ["seed"], ["seed"]):
        done = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)


def check_through(url: str, port: int, cwd: Path) -> str:
    """``tarsify check`` through the PgBouncer on ``port``; its output."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": through(url, port),
        "DATABASE_POOLER": "transaction",
        "DATABASE_DIRECT_URL": url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def test_check_reports_the_planner_setting_the_pooled_sessions_cannot_set(
    pg_url: str, bouncer: int, tmp_path: Path
) -> None:
    assert "PROBLEM  enable_bitmapscan is on through the pooler" in check_through(
        pg_url, bouncer, tmp_path
    )
    url = asyncio.run(create_test_database())
    try:
        name = make_url(url).database

        async def set_off() -> None:
            connection = await asyncpg.connect(ADMIN_DSN)
            try:
                await connection.execute(f'ALTER DATABASE "{name}" SET enable_bitmapscan = off')
            finally:
                await connection.close()

        asyncio.run(set_off())  # before any session of it exists
        asyncio.run(upgrade(through(url, bouncer), pooled=True))
        out = check_through(url, bouncer, tmp_path)
        assert "ok       enable_bitmapscan is off on the database" in out, out
        assert "ok       the database answers" in out, out
    finally:
        asyncio.run(drop_test_database(url))
