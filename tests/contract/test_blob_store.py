"""The BlobStore contract, run against the memory, filesystem and S3 (moto) stores."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tarsify.domain.errors import BlobNotFound, BlobStoreUnavailable, InvalidFileKey
from tarsify.ports.files import BlobStore

from .blob_stores import STORES, app_store, down_store, moto_url, open_store

__all__ = ["moto_url"]  # the session fixture of the S3 store

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)
ODD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.png",
    "executions/../../outside.png",
    "executions/./a.png",
    "a//b.png",
    "a/b/",
    ".hidden",
    "a\x00b.png",
    "a\\b.png",
    "caf\u00e9.png",
    "\u2215etc\u2215passwd",
    "sp ace.png",
    "a.png\n",
    "executions/x\n/a.png",
    "%2e%2e/x.png",
    "x" * 513,
]


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A working store of each kind."""
    async with open_store(str(request.param), tmp_path, request) as opened:
        yield opened


async def http_get(url: str) -> tuple[int, bytes, dict[str, str]]:
    """A plain GET, as a browser or a consumer's script would send it."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), dict(response.headers)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_put_then_read_gives_the_same_bytes(store: BlobStore) -> None:
    stored = await store.put("executions/e1/0.png", PNG, "image/png")
    assert (stored.key, stored.content_type, stored.size) == (
        "executions/e1/0.png",
        "image/png",
        len(PNG),
    )
    assert sha(await store.read("executions/e1/0.png")) == sha(PNG)
    head = await store.head("executions/e1/0.png")
    assert (head.content_type, head.size) == ("image/png", len(PNG))


async def test_put_replaces_the_previous_file(store: BlobStore) -> None:
    await store.put("k/1.bin", b"first version", "application/octet-stream")
    await store.put("k/1.bin", b"second", "audio/wav")
    assert await store.read("k/1.bin") == b"second"
    assert (await store.head("k/1.bin")).content_type == "audio/wav"


async def test_url_serves_the_exact_bytes_with_type_and_length(store: BlobStore) -> None:
    await store.put("executions/e2/0.png", PNG, "image/png")
    url = await store.url("executions/e2/0.png", 600)
    assert url.startswith("http://127.0.0.1:")
    status, body, headers = await http_get(url)
    assert status == 200
    assert sha(body) == sha(PNG)
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(PNG))


async def test_url_serves_an_empty_file(store: BlobStore) -> None:
    await store.put("empty.txt", b"", "text/plain")
    status, body, headers = await http_get(await store.url("empty.txt", 60))
    assert (status, body, headers["Content-Length"]) == (200, b"", "0")


async def test_local_path_holds_the_stored_bytes_on_disk_only(
    store: BlobStore, request: pytest.FixtureRequest
) -> None:
    await store.put("executions/e4/0.png", PNG, "image/png")
    path = await store.local_path("executions/e4/0.png")
    if request.node.callspec.params["store"] != "filesystem":
        assert path is None
        return
    assert path is not None and sha(path.read_bytes()) == sha(PNG)
    await store.delete("executions/e4/0.png")
    with pytest.raises(BlobNotFound):
        await store.local_path("executions/e4/0.png")


async def test_delete_removes_the_file(store: BlobStore) -> None:
    await store.put("executions/e3/0.wav", b"RIFF....WAVE", "audio/wav")
    await store.delete("executions/e3/0.wav")
    with pytest.raises(BlobNotFound):
        await store.read("executions/e3/0.wav")
    with pytest.raises(BlobNotFound):
        await store.head("executions/e3/0.wav")
    await store.delete("executions/e3/0.wav")  # deleting twice is not an error


async def test_missing_key_is_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.read("executions/nothing/0.png")
    with pytest.raises(BlobNotFound):
        await store.head("executions/nothing/0.png")
    status, _, _ = await http_get(await store.url("executions/nothing/0.png", 60))
    assert status in (403, 404)  # S3 answers 403 without list rights, 404 with


async def test_ping_answers_when_up(store: BlobStore) -> None:
    await store.ping()


@pytest.mark.parametrize("kind", STORES)
async def test_a_store_that_is_down_says_so(kind: str, tmp_path: Path) -> None:
    async with down_store(kind, tmp_path) as store:
        with pytest.raises(BlobStoreUnavailable):
            await store.ping()
        with pytest.raises(BlobStoreUnavailable):
            await store.put("executions/e4/0.png", PNG, "image/png")


@pytest.mark.parametrize("key", ODD_KEYS, ids=repr)
async def test_odd_keys_are_refused(store: BlobStore, key: str, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    with pytest.raises(InvalidFileKey):
        await store.put(key, b"data", "text/plain")
    with pytest.raises(InvalidFileKey):
        await store.read(key)
    with pytest.raises(InvalidFileKey):
        await store.url(key, 60)
    # Nothing was written beside the test's directory.
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before


async def test_keys_with_every_allowed_character(store: BlobStore) -> None:
    key = "Executions/AZ-az_09/file.name-1_2.tar.gz"
    await store.put(key, b"\x00\xff" * 100, "application/gzip")
    assert await store.read(key) == b"\x00\xff" * 100
    status, body, _ = await http_get(await store.url(key, 60))
    assert (status, body) == (200, b"\x00\xff" * 100)


async def test_a_filesystem_store_that_cannot_write_fails_its_ping(tmp_path: Path) -> None:
    # The root's permissions allow writing (and root ignores them anyway); a file lies
    # where the bytes go, so every put would fail: the ping must try, not look.
    async with app_store("filesystem", tmp_path / "files") as store:
        await store.ping()
        (tmp_path / "files" / "blobs").rmdir()
        (tmp_path / "files" / "blobs").write_bytes(b"")
        with pytest.raises(BlobStoreUnavailable):
            await store.ping()
        with pytest.raises(BlobStoreUnavailable):
            await store.put("executions/e5/0.png", PNG, "image/png")
