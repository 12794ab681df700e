"""GET /files/{key}: signed links to the files of the filesystem (and memory) blob store."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from adapters.blobs.signing import FileUrlSigner
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import create_app
from tarsify.ports.files import BlobStore

from .conftest import ClientFactory, make_settings

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(50_000)
KEY = "executions/0b6f0a46-35d8-4d4a-9a43-5b1d5c5e3f10/0.png"
SECRET_TEXT = b"outside the root: must never be served"


@pytest.fixture
async def served(tmp_path: Path, aiohttp_client: ClientFactory) -> AsyncIterator[Any]:
    """(client, store, signer) of an app on a filesystem store under ``tmp_path/files``,
    with a file beside the root that no link may reach."""
    (tmp_path / "secret.txt").write_bytes(SECRET_TEXT)
    settings = make_settings(blob_store="filesystem", blob_filesystem_root=str(tmp_path / "files"))
    container: Container = build_container(settings)
    client = await aiohttp_client(create_app(container))
    store: BlobStore = await resolve(container.blob_store)
    signer = container.file_url_signer()
    assert signer is not None
    yield client, store, signer


def path_of(url: str) -> str:
    """The path and query of an absolute URL, to send to the test client."""
    parsed = URL(url)
    return f"{parsed.raw_path}?{parsed.raw_query_string}"


async def get(client: TestClient, target: str) -> tuple[int, bytes, Any]:
    async with client.get(URL(target, encoded=True)) as response:
        return response.status, await response.read(), response.headers


async def error_code(client: TestClient, target: str) -> tuple[int, str]:
    async with client.get(URL(target, encoded=True)) as response:
        body = await response.json()
        assert body["success"] is False
        return response.status, body["error"]["code"]


async def test_a_valid_link_gives_the_exact_bytes(served: Any) -> None:
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    url = await store.url(KEY, 300)
    assert url.startswith("http://tarsify.test/files/executions/")  # PUBLIC_BASE_URL
    status, body, headers = await get(client, path_of(url))
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(PNG).digest()
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(PNG))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    assert "Content-Disposition" not in headers


async def test_files_are_sent_from_disk_with_ranges(served: Any) -> None:
    """The filesystem store's files are streamed (as sendfile does), so ranges work: a
    player can seek in a long audio or video output without downloading it all."""
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    target = URL(path_of(await store.url(KEY, 300)), encoded=True)
    async with client.get(target, headers={"Range": "bytes=100-199"}) as response:
        assert response.status == 206
        assert await response.read() == PNG[100:200]
        assert response.headers["Content-Range"] == f"bytes 100-199/{len(PNG)}"
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with client.head(target) as response:
        assert response.status == 200 and await response.read() == b""
        assert response.headers["Content-Length"] == str(len(PNG))


async def test_a_file_whose_bytes_are_gone_is_not_found(served: Any, tmp_path: Path) -> None:
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    (tmp_path / "files" / "blobs" / KEY).unlink()  # the metadata is still there
    assert await error_code(client, path_of(await store.url(KEY, 300))) == (404, "ERR_3001")


async def test_other_types_are_downloads(served: Any) -> None:
    client, store, _ = served
    await store.put("executions/x/0.bin", b"<html><script>x</script>", "text/html")
    status, _, headers = await get(client, path_of(await store.url("executions/x/0.bin", 60)))
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Disposition"] == "attachment"


async def test_a_tampered_link_is_refused(served: Any) -> None:
    client, store, signer = served
    await store.put(KEY, PNG, "image/png")
    target = path_of(await store.url(KEY, 300))
    flipped = target[:-1] + ("0" if target[-1] != "0" else "1")
    assert await error_code(client, flipped) == (403, "ERR_1006")
    later = int(time.time()) + 9999
    moved = f"/files/{KEY}?expires={later}&sig={signer.signature(KEY, later - 1)}"
    assert await error_code(client, moved) == (403, "ERR_1006")
    other = f"/files/executions/x/1.png?expires={later}&sig={signer.signature(KEY, later)}"
    assert await error_code(client, other) == (403, "ERR_1006")
    assert await error_code(client, f"/files/{KEY}") == (403, "ERR_1006")
    assert await error_code(client, f"/files/{KEY}?expires=abc&sig=zz") == (403, "ERR_1006")
    # Unicode digits pass str.isdigit(); the link is still just invalid (not a 500).
    for digits in ("%C2%B2", "%D9%A1%D9%A0"):
        assert await error_code(client, f"/files/a?expires={digits}&sig=x") == (403, "ERR_1006")


@pytest.mark.parametrize(
    "value",
    ["bytes=abc", "bytes=5-2", "bytes=0-1,4-5", "items=0-5", "bytes=-", "bytes=²-9"],
)
async def test_a_range_that_does_not_parse_is_ignored(served: Any, value: str) -> None:
    """RFC 9110 14.2: an invalid Range is ignored; the whole file is the answer."""
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    target = URL(path_of(await store.url(KEY, 300)), encoded=True)
    async with client.get(target, headers={"Range": value}) as response:
        assert response.status == 200
        assert await response.read() == PNG
        assert "Content-Range" not in response.headers


async def test_a_range_past_the_end_is_416_in_the_envelope(served: Any) -> None:
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    target = URL(path_of(await store.url(KEY, 300)), encoded=True)
    for value in (f"bytes={len(PNG)}-", f"bytes={len(PNG) + 10}-{len(PNG) + 20}"):
        async with client.get(target, headers={"Range": value}) as response:
            assert response.status == 416
            assert response.headers["Content-Range"] == f"bytes */{len(PNG)}"
            body = await response.json()
            assert body["success"] is False and body["error"]["code"] == "ERR_4160"
    last = f"bytes={len(PNG) - 1}-"
    async with client.get(target, headers={"Range": last}) as response:
        assert response.status == 206 and await response.read() == PNG[-1:]


async def test_an_expired_link_is_refused(served: Any) -> None:
    client, store, signer = served
    await store.put(KEY, PNG, "image/png")
    past = int(time.time()) - 1
    target = f"/files/{KEY}?expires={past}&sig={signer.signature(KEY, past)}"
    assert await error_code(client, target) == (403, "ERR_1006")


async def test_a_link_signed_under_another_secret_is_refused(served: Any) -> None:
    client, store, _ = served
    await store.put(KEY, PNG, "image/png")
    forged = FileUrlSigner("another-secret-of-at-least-32-chars!!", "http://x").url(KEY, 60)
    assert await error_code(client, path_of(forged)) == (403, "ERR_1006")


async def test_an_unknown_file_is_not_found(served: Any) -> None:
    client, store, _ = served
    target = path_of(await store.url("executions/none/0.png", 60))
    assert await error_code(client, target) == (404, "ERR_3001")


@pytest.mark.parametrize(
    "raw_key",
    [
        "../secret.txt",
        "..%2Fsecret.txt",
        "%2e%2e/secret.txt",
        "%2e%2e%2fsecret.txt",
        "blobs/../../secret.txt",
        "%2F" + "etc/passwd",
        "/etc/passwd",
        "a%00b.png",
        "caf%C3%A9.png",
    ],
)
async def test_traversal_attempts_never_leave_the_root(served: Any, raw_key: str) -> None:
    client, _, signer = served
    # Even with a valid signature of the decoded key, nothing outside the root is served.
    decoded = URL(f"/files/{raw_key}", encoded=True).path.removeprefix("/files/")
    later = int(time.time()) + 600
    target = f"/files/{raw_key}?expires={later}&sig={signer.signature(decoded, later)}"
    status, body, _ = await get(client, target)
    assert status in (400, 403, 404), (raw_key, status)  # 400: the input boundary (NUL)
    assert SECRET_TEXT not in body


async def test_without_a_self_served_store_the_route_is_not_found(
    aiohttp_client: ClientFactory,
) -> None:
    settings = make_settings(
        blob_store="s3", blob_s3_bucket="b", blob_s3_endpoint_url="http://127.0.0.1:9"
    )
    container = build_container(settings)
    client = await aiohttp_client(create_app(container))
    later = int(time.time()) + 600
    assert await error_code(client, f"/files/{KEY}?expires={later}&sig=00") == (404, "ERR_3001")
