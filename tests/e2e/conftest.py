"""Fixtures of the HTTP end-to-end tests: a container on the memory store and the simulator."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.sql.engine import create_engine
from entrypoints.config import Settings
from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from tests.contract.conftest import empty_all
from tests.pg import migrated_postgres

from .support import ADMIN_UID, JWT_SECRET, Api, World, seed, tokens

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]


def make_settings(**overrides: Any) -> Settings:
    """Test settings: memory store, instant simulator, no background reconciler and no
    webhook delivery."""
    values: dict[str, Any] = {
        "database_url": "memory://",
        "gpu_provider": "simulator",
        "simulator_queue_seconds": 0.0,
        "simulator_run_seconds": 0.0,
        "auth_backend": "jwt",
        "tarsify_jwt_secret": JWT_SECRET,
        "admin_uids": f"{ADMIN_UID}, other-admin",
        "reconciler_enabled": False,
        "status_poll_min_interval": 0.0,
        "max_body_bytes": 64 * 1024,
        "log_format": "console",
        "public_base_url": "http://tarsify.test",
        "blob_store": "memory",
        # Tests that deliver webhooks turn it on (with a receiver on loopback).
        "webhook_delivery_enabled": False,
        # Tests send more than a minute's quota from one address and consumer; the
        # tests of the limits (test_rate_limits.py) turn them on.
        "run_rate_limit_per_minute": 0,
        "anon_rate_limit_per_minute": 0,
    }
    values.update(overrides)
    return Settings.from_variables(**values)


@pytest.fixture
def settings() -> Settings:
    """The settings the container is built from."""
    return make_settings()


@pytest.fixture
def container(settings: Settings) -> Any:
    """The container; every provider override is reset after the test."""
    built: Container = build_container(settings)
    yield built
    for provider in built.traverse():
        provider.reset_override()


@pytest.fixture
async def client(container: Container, aiohttp_client: ClientFactory) -> TestClient:
    """A test client of the app over ``container``."""
    return await aiohttp_client(create_app(container))


@pytest.fixture
def api(client: TestClient) -> Api:
    """The recording API helper with every test identity's token."""
    return Api(client, tokens())


@pytest.fixture
async def world(api: Api) -> AsyncIterator[World]:
    """A seeded catalog with registered users."""
    yield await seed(api)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started, killed if the test leaves them running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of the test module's own, migrated to head."""
    yield from migrated_postgres()


@pytest.fixture
async def database_url(pg_url: str) -> str:
    """The module's PostgreSQL database, emptied for the test."""
    engine = create_engine(pg_url)
    await empty_all(engine)
    await engine.dispose()
    return pg_url
