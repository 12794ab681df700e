"""The BlobStore contract for streamed writes (uploads), on the memory, filesystem and
S3 (moto) stores; and S3's presigned PUT URLs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import pytest

from adapters.blobs.s3 import PART_BYTES
from tarsify.domain.errors import BlobNotFound
from tarsify.ports.files import BlobStore

from .blob_stores import STORES, moto_url, open_store

__all__ = ["moto_url"]


class Broken(Exception):
    """The client went away in the middle of its upload."""


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A working store of each kind."""
    async with open_store(str(request.param), tmp_path, request) as opened:
        yield opened


async def chunks_of(
    data: bytes, size: int, *, fail_after: int | None = None
) -> AsyncIterator[bytes]:
    """``data`` in chunks of ``size``; raises ``Broken`` after ``fail_after`` chunks."""
    for sent, start in enumerate(range(0, len(data), size)):
        if fail_after is not None and sent == fail_after:
            raise Broken()
        yield data[start : start + size]


def sha(data: bytes | Iterable[int]) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


async def test_a_stream_is_stored_whole(store: BlobStore) -> None:
    data = b"RIFF" + os.urandom(200_000)
    stored = await store.put_stream("uploads/s1", chunks_of(data, 7_000), "audio/wav")
    assert (stored.key, stored.content_type, stored.size) == ("uploads/s1", "audio/wav", len(data))
    assert sha(await store.read("uploads/s1")) == sha(data)
    assert (await store.head("uploads/s1")).size == len(data)


async def test_a_stream_larger_than_a_part_is_stored_whole(store: BlobStore) -> None:
    data = os.urandom(2 * PART_BYTES + 12_345)
    stored = await store.put_stream("uploads/s2", chunks_of(data, 1 << 20), "video/mp4")
    assert stored.size == len(data)
    assert sha(await store.read("uploads/s2")) == sha(data)
    assert (await store.head("uploads/s2")).content_type == "video/mp4"


@pytest.mark.parametrize("fail_after", [0, 3, 12])
async def test_a_broken_stream_keeps_nothing(store: BlobStore, fail_after: int) -> None:
    data = os.urandom(2 * PART_BYTES)
    with pytest.raises(Broken):
        await store.put_stream(
            "uploads/s3", chunks_of(data, 1 << 20, fail_after=fail_after), "image/png"
        )
    with pytest.raises(BlobNotFound):
        await store.head("uploads/s3")
    with pytest.raises(BlobNotFound):
        await store.read("uploads/s3")


async def test_s3_presigned_put_stores_the_bytes(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with open_store("s3", tmp_path, request) as store:
        url = await store.upload_url("uploads/direct", "image/png", 600)  # type: ignore[attr-defined]
        data = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
        async with aiohttp.ClientSession() as session:
            headers = {"Content-Type": "image/png"}
            async with session.put(url, data=data, headers=headers) as answer:
                assert answer.status == 200
        head = await store.head("uploads/direct")
        assert (head.size, head.content_type) == (len(data), "image/png")
        assert sha(await store.read("uploads/direct")) == sha(data)
