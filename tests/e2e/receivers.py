"""A webhook receiver on a loopback port, and waiting for what happens in the background."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks.webhooks import Webhook

WAIT_LIMIT_S = 20.0  # how long background work may take before a test gives up


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The parsed body."""
        return json.loads(self.body)

    def verified(self, secret: str) -> Any:
        """The body, after checking its Standard Webhooks signature under ``secret``."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then 200) and records it."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: TestServer | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "no")

    async def start(self) -> str:
        """Serve on a free loopback port; returns the hook URL."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    async def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            await self.server.close()

    def by_webhook_id(self) -> dict[str, list[Received]]:
        """Received requests grouped by their webhook-id header."""
        grouped: dict[str, list[Received]] = {}
        for item in self.received:
            grouped.setdefault(item.headers["webhook-id"], []).append(item)
        return grouped


@dataclass
class HangingReceiver:
    """Takes each POST and answers nothing until ``release`` (then 200)."""

    arrived: int = 0
    answered: int = 0
    most_at_once: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived += 1
        self.most_at_once = max(self.most_at_once, self.arrived - self.answered)
        await self.release.wait()
        self.answered += 1
        return web.Response(text="late")

    async def start(self) -> str:
        """Serve on a free loopback port; returns the hook URL."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    async def close(self) -> None:
        """Answer whatever is held, then stop serving."""
        self.release.set()
        if self.server is not None:
            await self.server.close()


async def wait_until(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    what: str,
    limit: float = WAIT_LIMIT_S,
) -> None:
    """Return once ``check()`` is true; fail the test after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
