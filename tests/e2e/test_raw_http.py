"""Bytes aiohttp refuses before any middleware, sent over a raw socket to a real server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.http.server import make_runner

SECRET = b"SECRETtokenMATERIAL"


@pytest.fixture
async def port(container: Container) -> AsyncIterator[int]:
    """The port of the app served the way ``tarsify serve`` serves it (loopback, any port)."""
    runner = make_runner(create_app(container), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def exchange(port: int, raw: bytes) -> tuple[int, bytes, bytes]:
    """Send ``raw`` on a new connection; the status, head and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1]), head, body


def request(*headers: bytes, line: bytes = b"GET /api/consumer/auth/me HTTP/1.1") -> bytes:
    return b"\r\n".join([line, b"Host: tarsify.test", *headers, b"", b""])


MALFORMED = {
    "control byte in a header": request(b"Authorization: Bearer " + SECRET + b"\x01x"),
    "oversized header": request(b"Authorization: Bearer " + SECRET + b"A" * 9000),
    "NUL in the method": request(line=b"G\x00T /" + SECRET + b" HTTP/1.1"),
    "oversized request line": request(line=b"GET /" + SECRET + b"a" * 9000 + b" HTTP/1.1"),
    "bad header name": request(b"Auth\x7forization: " + SECRET),
}


@pytest.mark.parametrize("name", MALFORMED)
async def test_malformed_requests_get_the_envelope_and_no_echo(
    port: int, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, head, body = await exchange(port, MALFORMED[name])
    assert status == 400
    assert b"application/json" in head
    assert json.loads(body) == {
        "success": False,
        "error": {"code": "ERR_2001", "message": "Malformed HTTP request"},
    }
    assert SECRET not in head + body
    assert SECRET.decode() not in caplog.text


async def test_undecodable_bearer_token_is_invalid_not_a_crash(port: int) -> None:
    for token in (b"\xff\xfe" + SECRET, SECRET + b"\xc3\x28", "tok\u00e9n".encode()):
        status, _, body = await exchange(port, request(b"Authorization: Bearer " + token))
        assert status == 401, body
        assert json.loads(body)["error"]["code"] == "ERR_1002"
        assert SECRET not in body
    status, _, body = await exchange(port, request(b"Authorization: \xff\xfe " + SECRET))
    assert (status, json.loads(body)["error"]["code"]) == (401, "ERR_1001")
