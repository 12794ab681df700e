"""Clients that leave early, over raw sockets reset by the client (RST, not FIN), on the
runner ``tarsify serve`` uses: a disconnect is a 499 in the access log and the metrics,
never an ERROR, a traceback or a 5xx."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from tests.metrics_text import value

from .conftest import make_settings
from .receivers import wait_until
from .support import Api, World, seed, tokens
from .test_event_stream import ServedLikeProduction, stream_path

REQUESTS = "tarsify_http_requests_total"


@pytest.fixture
async def served() -> AsyncIterator[tuple[Api, Container, World]]:
    container = build_container(make_settings())
    client = TestClient(ServedLikeProduction(create_app(container)))
    await client.start_server()
    try:
        api = Api(client, tokens())
        yield api, container, await seed(api)
    finally:
        await client.close()


async def reset_after(port: int, raw: bytes, wait_for: bytes | None = None) -> None:
    """Send ``raw``, optionally read until ``wait_for`` arrives, then reset the
    connection (SO_LINGER 0: the kernel sends RST)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    if wait_for is not None:
        await asyncio.wait_for(reader.readuntil(wait_for), 10)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def statuses(logs: list[dict[str, Any]], path: str) -> list[int]:
    return [e["status"] for e in logs if e["event"] == "http.request" and e["path"] == path]


async def check_counted_as_499(api: Api, route: str, method: str) -> None:
    async with api.client.get("/metrics") as response:
        text = await response.text()
    assert value(text, REQUESTS, method=method, route=route, status="499") == 1
    assert not [line for line in text.splitlines() if 'status="5' in line]


async def test_a_request_body_cut_short_is_a_client_disconnect(
    served: tuple[Api, Container, World], caplog: pytest.LogCaptureFixture
) -> None:
    api, _, world = served
    caplog.set_level(logging.INFO)
    path = f"/api/marketplace/models/{world.slug}/run"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: tarsify.test\r\n"
        f"Authorization: Bearer {api.tokens['consumer_a']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with structlog.testing.capture_logs() as logs:
        await reset_after(api.client.port or 0, head.encode() + b'{"inputs": {"prompt": "ha')
        await wait_until(lambda: bool(statuses(logs, path)), "the access line")
    assert statuses(logs, path) == [499]
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    assert "http.client_disconnected" in [e["event"] for e in logs]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text
    await check_counted_as_499(api, "/api/marketplace/models/{slug}/run", "POST")


async def test_an_event_stream_reset_by_its_client_is_a_client_disconnect(
    served: tuple[Api, Container, World], caplog: pytest.LogCaptureFixture
) -> None:
    api, container, world = served
    caplog.set_level(logging.INFO)
    container.simulator_engine().hang_next()
    run = f"/api/marketplace/models/{world.slug}/run"
    started = await api.ok("POST", run, "consumer_a", {"inputs": {"prompt": "x"}}, 202)
    path = stream_path(started["id"])
    request = (
        f"GET {path} HTTP/1.1\r\nHost: tarsify.test\r\n"
        f"Authorization: Bearer {api.tokens['consumer_a']}\r\n\r\n"
    )
    feed = container.execution_feed()
    with structlog.testing.capture_logs() as logs:
        await reset_after(api.client.port or 0, request.encode(), wait_for=b"event: status")
        await wait_until(lambda: bool(statuses(logs, path)), "the access line")
    assert statuses(logs, path) == [499]
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text
    await wait_until(lambda: feed.watcher_count == 0, "the watch to end")
    await check_counted_as_499(api, "/api/consumer/executions/{id}/events", "GET")
