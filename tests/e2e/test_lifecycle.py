"""The app's lifecycle (resources, reconciler task) and its access log."""

from __future__ import annotations

import asyncio
import logging

import pytest
import structlog
from dependency_injector import providers

from entrypoints.container import build_container
from entrypoints.http.app import RECONCILER_TASK, create_app

from .conftest import ClientFactory, make_settings
from .support import Api, seed, tokens


async def test_reconciler_finishes_executions_nobody_polls(aiohttp_client: ClientFactory) -> None:
    settings = make_settings(reconciler_enabled=True, reconciler_interval=0.01)
    app = create_app(build_container(settings))
    api = Api(await aiohttp_client(app), tokens())
    world = await seed(api)
    assert not app[RECONCILER_TASK].done()
    run = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "cat"}},
        202,
    )
    for _ in range(200):
        listed = await api.ok("GET", "/api/consumer/executions", "consumer_a")
        if listed[0]["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.01)
    assert listed[0]["id"] == run["id"] and listed[0]["status"] == "COMPLETED"
    await api.client.close()
    assert app[RECONCILER_TASK].cancelled()


async def test_resources_are_shut_down_on_cleanup(aiohttp_client: ClientFactory) -> None:
    events: list[str] = []

    async def tracked_engine() -> object:
        events.append("open")
        yield None
        events.append("close")

    container = build_container(make_settings())
    container.db_engine.override(providers.Resource(tracked_engine))
    client = await aiohttp_client(create_app(container))
    assert events == ["open"]
    await client.close()
    assert events == ["open", "close"]


async def test_access_log_has_the_request_and_never_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tarsify.access")  # as LOG_LEVEL=INFO (the default)
    with structlog.testing.capture_logs() as logs:
        await api.call(
            "GET", "/api/consumer/auth/me", "consumer_a", headers={"X-Request-Id": "trace-1"}
        )
    entries = [e for e in logs if e["event"] == "http.request"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["method"] == "GET" and entry["path"] == "/api/consumer/auth/me"
    assert entry["status"] == 404 and entry["request_id"] == "trace-1"
    assert isinstance(entry["duration_ms"], float)
    assert api.tokens["consumer_a"] not in repr(logs)
    caplog.set_level(logging.WARNING, logger="tarsify.access")  # LOG_LEVEL=WARNING: no line
    with structlog.testing.capture_logs() as quiet:
        await api.call("GET", "/api/consumer/auth/me", "consumer_a")
    assert [e for e in quiet if e["event"] == "http.request"] == []
