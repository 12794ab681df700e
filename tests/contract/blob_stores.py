"""Blob stores under test, each with a way to GET its URLs, and a way to be down.

Memory and filesystem stores are served by the app's own ``GET /files/{key}`` on a test
server; the S3 store talks HTTP to moto's standalone server (one per test session).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from moto.server import ThreadedMotoServer

from adapters.blobs.s3 import S3Settings, open_s3_blob_store
from entrypoints.container import build_container, resolve
from entrypoints.http.app import create_app
from tarsify.ports.files import BlobStore
from tests.e2e.conftest import make_settings

BUCKET = "tarsify-test-files"
STORES = ["memory", "filesystem", "s3"]


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto S3 server on a free loopback port with the test bucket, for the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        server.stop()


def s3_settings(endpoint_url: str, **overrides: Any) -> S3Settings:
    """Settings of a store on ``endpoint_url`` with moto's dummy credentials."""
    values: dict[str, Any] = {
        "bucket": BUCKET,
        "endpoint_url": endpoint_url,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    return S3Settings(**(values | overrides))


@contextlib.asynccontextmanager
async def s3_store(endpoint_url: str, **overrides: Any) -> AsyncIterator[BlobStore]:
    """An S3 store on ``endpoint_url`` whose bucket exists (when the server is up)."""
    async with open_s3_blob_store(s3_settings(endpoint_url, **overrides)) as store:
        yield store


@contextlib.asynccontextmanager
async def app_store(kind: str, root: Path) -> AsyncIterator[BlobStore]:
    """The app's own store of ``kind``, its file links pointing at a running test server."""
    settings = make_settings(blob_store=kind, blob_filesystem_root=str(root))
    container = build_container(settings)
    server = TestServer(create_app(container))
    await server.start_server()
    try:
        signer = container.file_url_signer()
        signer.base_url = str(server.make_url("")).rstrip("/")
        yield await resolve(container.blob_store)
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def open_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[BlobStore]:
    """A working store of ``kind``."""
    if kind == "s3":
        url: str = request.getfixturevalue("moto_url")
        async with s3_store(url) as store:
            client = store._client  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):  # already made by an earlier test
                await client.create_bucket(Bucket=BUCKET)
            yield store
        return
    async with app_store(kind, tmp_path / "files") as store:
        yield store


@contextlib.asynccontextmanager
async def down_store(kind: str, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A store of ``kind`` that cannot work: nothing listens at the S3 address, the
    filesystem root lies under a regular file, the memory store is switched down."""
    if kind == "s3":
        unreachable = f"http://127.0.0.1:{free_port()}"
        async with s3_store(unreachable, max_attempts=1, connect_timeout_s=1.0) as store:
            yield store
        return
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    async with app_store(kind, blocker / "files") as store:
        if kind == "memory":
            store.down = True  # type: ignore[attr-defined]
        yield store
