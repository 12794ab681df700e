"""Uploads whose client leaves in the middle of the body (Content-Length larger than
what arrives, then the connection closes), over a raw socket against a served app, on
the filesystem store: nothing is kept (no row, no bytes, no temporary file), one info
line, no error or traceback, a 499 in the access log and the metrics, never a 4xx or
5xx (nobody is there to read an answer)."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from tests.metrics_text import value

from .conftest import make_settings
from .receivers import wait_until
from .support import Api, endpoint_body, tokens
from .test_event_stream import ServedLikeProduction
from .uploads_support import seed_stt, wav_bytes

PATH = "/api/consumer/files"
BOUNDARY = "XyZb0undary"
WAV = wav_bytes(seconds=4.0)  # 64 kB: several chunks


@pytest.fixture(params=["serve", "cancelling"])
async def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Api, Container, Path]]:
    """The app on the runner ``tarsify serve`` uses (the handler goes on after the
    client left), or on aiohttp's test server (it cancels that handler)."""
    root = tmp_path / "files"
    settings = make_settings(
        max_upload_bytes=1_000_000, blob_store="filesystem", blob_filesystem_root=str(root)
    )
    container = build_container(settings)
    app = create_app(container)
    server = ServedLikeProduction(app) if request.param == "serve" else TestServer(app)
    client = TestClient(server)
    await client.start_server()
    try:
        api = Api(client, tokens())
        await seed_stt(api, endpoint_body())
        yield api, container, root
    finally:
        await client.close()


def request_bytes(api: Api) -> tuple[bytes, bytes]:
    """The request's head and its complete multipart body."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + WAV
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: tarsify.test\r\n"
        f"Authorization: Bearer {api.tokens['consumer_a']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


async def send_and_leave(port: int, raw: bytes, *, reset: bool) -> None:
    """Send ``raw`` then close the connection: a FIN, or a RST when ``reset``."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()
        await writer.wait_closed()


def access_statuses(logs: list[dict[str, Any]]) -> list[int]:
    return [e["status"] for e in logs if e["event"] == "http.request" and e["path"] == PATH]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("cut", ["in-part-headers", "mid-file"])
async def test_a_client_gone_mid_upload_keeps_nothing_and_is_one_info_line(
    served: tuple[Api, Container, Path],
    caplog: pytest.LogCaptureFixture,
    reset: bool,
    cut: str,
) -> None:
    api, _, root = served
    caplog.set_level(logging.INFO)
    head, body = request_bytes(api)
    sent = body[:40] if cut == "in-part-headers" else body[: len(body) // 2]
    with structlog.testing.capture_logs() as logs:
        await send_and_leave(api.client.port or 0, head + sent, reset=reset)
        await wait_until(lambda: bool(access_statuses(logs)), "the access line")
    assert access_statuses(logs) == [499]
    gone = [e for e in logs if e["event"] == "http.client_disconnected"]
    assert [e["log_level"] for e in gone] == ["info"]
    assert [e for e in logs if e["log_level"] not in ("debug", "info")] == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text
    assert files_under(root) == []
    assert await api.ok("GET", PATH, "consumer_a") == []
    async with api.client.get("/metrics") as response:
        text = await response.text()
    assert value(text, "tarsify_http_requests_total", method="POST", route=PATH, status="499") == 1
    posts = [
        line
        for line in text.splitlines()
        if line.startswith("tarsify_http_requests_total")
        and f'method="POST",route="{PATH}"' in line
    ]
    assert posts and all('status="499"' in line for line in posts), posts
    assert not [line for line in text.splitlines() if 'status="5' in line]


async def test_a_whole_upload_on_the_same_store_is_kept(
    served: tuple[Api, Container, Path],
) -> None:
    """The same request sent whole is stored: the test above sees the cut, not the setup."""
    api, _, root = served
    head, body = request_bytes(api)
    reader, writer = await asyncio.open_connection("127.0.0.1", api.client.port or 0)
    writer.write(head + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] == b"201"
    assert len(await api.ok("GET", PATH, "consumer_a")) == 1
    assert files_under(root) != []
