"""HttpDownloader against a local aiohttp server: body, type, limits, refusals."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.blobs.downloader import HttpDownloader
from tarsify.domain.errors import OutputDownloadFailed
from tarsify.domain.webhook_rules import IpAddress

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(20_000)


async def wav(request: web.Request) -> web.Response:
    return web.Response(body=WAV, content_type="audio/wav")


async def streamed(request: web.Request) -> web.StreamResponse:
    # No Content-Length: the size is only known while reading.
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(10):
        await response.write(b"x" * 4096)
    await response.write_eof()
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(body=b"late")


async def missing(request: web.Request) -> web.Response:
    return web.Response(status=404)


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/wav")


async def to_inside(request: web.Request) -> web.Response:
    raise web.HTTPFound("http://10.1.2.3/secrets")  # another address of the private network


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


@pytest.fixture
async def base(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in [
        ("/wav", wav),
        ("/streamed", streamed),
        ("/slow", slow),
        ("/missing", missing),
        ("/redirect", redirect),
        ("/to-inside", to_inside),
        ("/loop", loop),
    ]:
        app.router.add_get(path, handler)
    server = await aiohttp_server(app)
    yield str(server.make_url("")).rstrip("/")


@pytest.fixture
async def downloader() -> AsyncIterator[HttpDownloader]:
    # The test server is on loopback: these downloads allow private destinations.
    made = HttpDownloader(max_bytes=30_000, timeout_s=0.5, allow_private=True)
    yield made
    await made.close()


async def test_a_download_gives_the_bytes_and_the_announced_type(
    base: str, downloader: HttpDownloader
) -> None:
    got = await downloader.fetch(f"{base}/wav")
    assert got.data == WAV
    assert got.content_type == "audio/wav"
    assert (await downloader.fetch(f"{base}/redirect")).data == WAV


async def failure(downloader: HttpDownloader, url: str) -> str:
    with pytest.raises(OutputDownloadFailed) as caught:
        await downloader.fetch(url)
    return caught.value.message


async def test_http_errors_fail_naming_the_host_only(base: str, downloader: HttpDownloader) -> None:
    message = await failure(downloader, f"{base}/missing?X-Amz-Signature=topsecret")
    assert "404" in message
    assert "127.0.0.1" in message
    assert "topsecret" not in message


async def test_bodies_over_the_limit_fail(base: str, downloader: HttpDownloader) -> None:
    downloader.max_bytes = 10_000
    assert "larger than 10000 bytes" in await failure(downloader, f"{base}/wav")
    assert "larger than" in await failure(downloader, f"{base}/streamed")


async def test_a_slow_server_times_out(base: str, downloader: HttpDownloader) -> None:
    assert "timed out" in await failure(downloader, f"{base}/slow")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a", "data:,x", "http://", "//x/y"]
)
async def test_only_http_urls_are_fetched(downloader: HttpDownloader, url: str) -> None:
    assert "not an http(s) URL" in await failure(downloader, url)


async def test_a_refused_connection_fails(downloader: HttpDownloader, unused_tcp_port: Any) -> None:
    assert "failed" in await failure(downloader, f"http://127.0.0.1:{unused_tcp_port}/x")


async def test_redirects_are_followed_a_few_times_only(
    base: str, downloader: HttpDownloader
) -> None:
    assert "over 3 redirects" in await failure(downloader, f"{base}/loop")


@pytest.fixture
async def guarded() -> AsyncIterator[HttpDownloader]:
    made = HttpDownloader(max_bytes=30_000, timeout_s=2)  # the default: no private addresses
    yield made
    await made.close()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "169.254.169.254", "10.0.0.7", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"]
)
async def test_internal_addresses_are_refused_before_connecting(
    guarded: HttpDownloader, host: str
) -> None:
    message = await failure(guarded, f"http://{host}/latest/meta-data/")
    assert "internal address" in message


async def test_a_name_that_resolves_inside_is_refused(base: str, guarded: HttpDownloader) -> None:
    port = base.rsplit(":", 1)[1]
    served = await failure(guarded, f"http://localhost:{port}/wav")  # resolves to loopback
    assert "internal address (localhost)" in served


async def test_each_redirect_is_checked(base: str) -> None:
    """The first hop is allowed (loopback, here); its redirect to a private address is not."""

    def only_private_networks(address: IpAddress) -> bool:
        return address.is_private and not address.is_loopback

    downloader = HttpDownloader(max_bytes=30_000, timeout_s=2, forbidden=only_private_networks)
    try:
        assert (await downloader.fetch(f"{base}/wav")).data == WAV
        assert "internal address (10.1.2.3)" in await failure(downloader, f"{base}/to-inside")
    finally:
        await downloader.close()
