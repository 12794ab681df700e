"""Uploads on every storage backend: the repository, the upload service's sweep, and the
checks of run inputs (``InputFiles``)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.memory.clock import ManualClock
from tarsify.domain.errors import InputValidationFailed, InvalidBody, UploadTooLarge
from tarsify.domain.pagination import PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.input_files import InputFiles
from tarsify.services.uploads import UploadService, UploadSettings

from .factories import T0, consumer

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


async def chunks(data: bytes, size: int = 50) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def world(
    uow_factory: UnitOfWorkFactory,
) -> tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]]:
    clock = ManualClock(T0)
    blobs = MemoryBlobStore()
    settings = UploadSettings(max_bytes=1000, retention_s=3600, url_ttl_s=600)
    owners = [consumer(), consumer()]
    async with uow_factory() as uow:
        for owner in owners:
            await uow.consumers.add(owner)
        await uow.commit()
    service = UploadService(uow_factory, blobs, clock, settings)
    return service, InputFiles(uow_factory, blobs, clock), clock, [o.id for o in owners]


async def test_upload_list_and_delete(
    world: tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]],
) -> None:
    service, _, clock, (alice, bob) = world
    first = await service.create(alice, "a.wav", "audio/wav", chunks(WAV))
    clock.advance(1)
    second = await service.create(alice, "b/../c.wav", None, chunks(WAV))
    await service.create(bob, "x.wav", None, chunks(WAV))
    assert first.upload.sha256 == hashlib.sha256(WAV).hexdigest()
    assert (second.upload.name, second.upload.content_type) == ("b_.._c.wav", "audio/wav")
    page = await service.list(alice, PageRequest(limit=1))
    assert [f.upload.id for f in page.items] == [second.upload.id]
    assert page.next_cursor is not None
    await service.delete(alice, first.upload.id)
    assert [f.upload.id for f in (await service.list(alice, PageRequest())).items] == [
        second.upload.id
    ]


async def test_refusals_keep_nothing(
    world: tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]],
) -> None:
    service, _, _, (alice, _) = world
    with pytest.raises(UploadTooLarge):
        await service.create(alice, "big.wav", "audio/wav", chunks(WAV + bytes(1000)))
    with pytest.raises(InvalidBody):
        await service.create(alice, "empty", None, chunks(b""))
    with pytest.raises(InvalidBody):
        await service.create(alice, "fake.png", "image/png", chunks(WAV))
    assert (await service.list(alice, PageRequest())).items == []


async def test_claims_are_own_files_only_and_keep_them_until_the_deadline(
    world: tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]],
) -> None:
    service, files, clock, (alice, bob) = world
    mine = await service.create(alice, "a.wav", None, chunks(WAV))
    theirs = await service.create(bob, "b.wav", None, chunks(WAV))
    deadline = T0 + timedelta(hours=5)
    ref = f"tarsify://files/{mine.upload.id}"
    await files.claim(alice, {"audio": ref}, deadline)
    with pytest.raises(InputValidationFailed) as refused:
        await files.claim(
            alice, {"audio": ref, "more": [f"tarsify://files/{theirs.upload.id}"]}, deadline
        )
    assert refused.value.details == [
        {"field": "more[0]", "message": refused.value.details[0]["message"]}
    ]
    # Past the retention but before the deadline: kept for the execution.
    clock.advance(2 * 3600)
    assert await service.sweep() == 1  # bob's, unused
    signed = await files.signed({"audio": ref, "n": 1}, deadline)
    assert signed["audio"].startswith("http://127.0.0.1/files/uploads/") and signed["n"] == 1
    clock.advance(4 * 3600)
    assert await service.sweep() == 1
    with pytest.raises(InputValidationFailed):
        await files.claim(alice, {"audio": ref}, deadline)


async def test_links_become_references_in_uri_fields_only(
    world: tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]],
) -> None:
    service, files, _, (alice, _) = world
    mine = await service.create(alice, "a.wav", None, chunks(WAV))
    schema = {
        "properties": {"audio": {"type": "string", "format": "uri"}, "note": {"type": "string"}}
    }
    named = await files.named({"audio": mine.url, "note": mine.url}, schema)
    assert named == {"audio": f"tarsify://files/{mine.upload.id}", "note": mine.url}
    untouched = {"audio": "https://example.com/a.wav"}
    assert await files.named(untouched, schema) is untouched


async def test_a_run_without_a_consumer_owns_no_uploads(
    world: tuple[UploadService, InputFiles, ManualClock, list[uuid.UUID]],
) -> None:
    """A developer's test run has no consumer: every upload it names is refused, even one
    that exists, and nothing is kept for it."""
    service, files, _clock, (alice, _bob) = world
    mine = await service.create(alice, "a.wav", None, chunks(WAV))
    ref = f"tarsify://files/{mine.upload.id}"
    with pytest.raises(InputValidationFailed) as refused:
        await files.claim(None, {"audio": ref, "n": 1}, T0 + timedelta(hours=1))
    assert [d["field"] for d in refused.value.details] == ["audio"]
    await files.claim(None, {"n": 1}, T0 + timedelta(hours=1))  # no reference: fine
