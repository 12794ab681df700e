"""The webhook sender over real HTTP on loopback: timeouts, redirects, refused addresses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.webhooks.destinations import DestinationGuard
from adapters.webhooks.sender import HttpWebhookSender
from tarsify.domain.errors import InvalidBody


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, list[str]]]:
    hits: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="fine")

    async def slow(request: web.Request) -> web.Response:
        hits.append(request.path)
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def redirect(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("/ok")

    async def huge(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.Response(body=b"x" * (4 * 1024 * 1024))

    app = web.Application()
    for path, handler in (("/ok", ok), ("/slow", slow), ("/redirect", redirect), ("/huge", huge)):
        app.router.add_post(path, handler)
    test_server = TestServer(app, host="127.0.0.1", port=0)
    await test_server.start_server()
    yield test_server, hits
    await test_server.close()


async def send(sender: HttpWebhookSender, url: str) -> tuple[int | None, str | None]:
    try:
        result = await sender.send(url, {"content-type": "application/json"}, b"{}")
    finally:
        await sender.close()
    return result.status, result.error


async def test_a_2xx_is_delivered_and_an_endless_body_is_not_read_whole(
    server: tuple[TestServer, list[str]],
) -> None:
    test_server, hits = server
    sender = HttpWebhookSender(DestinationGuard(allow_private=True), timeout_s=5)
    assert await send(sender, str(test_server.make_url("/huge"))) == (200, None)
    sender = HttpWebhookSender(DestinationGuard(allow_private=True), timeout_s=5)
    assert await send(sender, str(test_server.make_url("/ok"))) == (200, None)
    assert hits == ["/huge", "/ok"]


async def test_redirects_are_not_followed(server: tuple[TestServer, list[str]]) -> None:
    test_server, hits = server
    sender = HttpWebhookSender(DestinationGuard(allow_private=True), timeout_s=5)
    status, error = await send(sender, str(test_server.make_url("/redirect")))
    assert status == 302 and error is not None and "redirects are not followed" in error
    assert hits == ["/redirect"]


async def test_a_slow_receiver_times_out(server: tuple[TestServer, list[str]]) -> None:
    test_server, _ = server
    sender = HttpWebhookSender(DestinationGuard(allow_private=True), timeout_s=0.2)
    status, error = await send(sender, str(test_server.make_url("/slow")))
    assert status is None and error == "no answer within 0.2 s"


async def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    sender = HttpWebhookSender(DestinationGuard(allow_private=True), timeout_s=2)
    status, error = await send(sender, "http://127.0.0.1:9/hook")
    assert status is None and error is not None


async def test_internal_addresses_are_refused_at_send_time(
    server: tuple[TestServer, list[str]],
) -> None:
    test_server, hits = server
    port = test_server.port
    # A name that resolves to loopback now (as a rebound name would), and an address.
    for url in (f"http://localhost:{port}/ok", f"http://127.0.0.1:{port}/ok"):
        sender = HttpWebhookSender(DestinationGuard(allow_private=False), timeout_s=2)
        status, error = await send(sender, url)
        assert status is None and error is not None and "internal" in error, (url, error)
    assert hits == []


async def test_the_run_time_check_resolves_names() -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]  # one public, one private: refused

    guard = DestinationGuard(allow_private=False, lookup=rebinding)
    with pytest.raises(InvalidBody):
        await guard.check("https://hooks.example/x")

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    await DestinationGuard(allow_private=False, lookup=public).check("https://hooks.example/x")

    async def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(InvalidBody):
        await DestinationGuard(allow_private=False, lookup=unresolvable).check(
            "https://nx.example/"
        )
