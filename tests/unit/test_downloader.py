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


@pytest.fixture
async def base(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in [
        ("/wav", wav),
        ("/streamed", streamed),
        ("/slow", slow),
        ("/missing", missing),
        ("/redirect", redirect),
    ]:
        app.router.add_get(path, handler)
    server = await aiohttp_server(app)
    yield str(server.make_url("")).rstrip("/")


@pytest.fixture
async def downloader() -> AsyncIterator[HttpDownloader]:
    made = HttpDownloader(max_bytes=30_000, timeout_s=0.5)
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
