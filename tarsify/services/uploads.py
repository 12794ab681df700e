"""Uploads: consumers' files for run inputs, streamed into the blob store, listed,
deleted, uploaded directly to a store that allows it, and swept when they expire."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tarsify.domain.errors import InvalidBody, NotFound, UploadTooLarge
from tarsify.domain.models import new_id
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.uploads import Upload, clean_name, content_type_of, upload_key
from tarsify.ports.clock import Clock
from tarsify.ports.files import BlobStore, DirectUploads
from tarsify.ports.storage import UnitOfWorkFactory

log = logging.getLogger("tarsify.files")
MIB = 1024 * 1024
# Bytes read before the type is decided: every signature ``sniff`` knows is shorter.
HEAD_BYTES = 64


@dataclass(frozen=True, slots=True)
class UploadSettings:
    """``MAX_UPLOAD_BYTES``, ``UPLOAD_RETENTION_HOURS`` (as seconds) and the lifetime of
    the links shown (``FILE_URL_TTL``)."""

    max_bytes: int = 100 * MIB
    retention_s: int = 24 * 3600
    url_ttl_s: int = 3600


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """An upload and a signed link to its bytes."""

    upload: Upload
    url: str


@dataclass(frozen=True, slots=True)
class DirectUpload:
    """A direct upload started: the file (usable once its bytes are in the store) and
    the URL that takes them with a ``PUT``."""

    file: UploadedFile
    upload_url: str
    upload_expires_in_s: int


class UploadService:
    """The consumer's uploads; bytes in ``blobs`` under ``uploads/{id}``."""

    def __init__(
        self, uow: UnitOfWorkFactory, blobs: BlobStore, clock: Clock, settings: UploadSettings
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._clock = clock
        self._settings = settings

    def now(self) -> datetime:
        """The service's clock."""
        return self._clock.now()

    @property
    def settings(self) -> UploadSettings:
        """The settings in force."""
        return self._settings

    async def create(
        self,
        consumer_id: uuid.UUID,
        name: str | None,
        declared_type: str | None,
        chunks: AsyncIterator[bytes],
    ) -> UploadedFile:
        """Store the bytes of ``chunks`` as they come and record the upload.

        ``InvalidBody`` for an empty file or one whose bytes are not its declared type;
        ``UploadTooLarge`` past ``max_bytes``. Nothing is kept when either happens or
        ``chunks`` fails (a client gone in the middle).
        """
        head, content_type = await _typed_head(chunks, declared_type)
        counted = _Counted(head, chunks, self._settings.max_bytes)
        upload_id = new_id()
        stored = await self._blobs.put_stream(upload_key(upload_id), counted, content_type)
        now = self._clock.now()
        upload = Upload(
            id=upload_id,
            consumer_id=consumer_id,
            name=clean_name(name),
            content_type=stored.content_type,
            size_bytes=stored.size,
            sha256=counted.digest.hexdigest(),
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.retention_s),
        )
        await self._record(upload)
        log.info("upload.stored", extra={"upload_id": str(upload_id), "bytes": stored.size})
        return UploadedFile(upload, await self._url(upload))

    async def start_direct(
        self, consumer_id: uuid.UUID, name: str, content_type: str, size: int
    ) -> DirectUpload:
        """Record an upload whose bytes the client will ``PUT`` to the store itself.

        ``InvalidBody`` when the store takes no direct uploads; ``UploadTooLarge`` for a
        declared size over ``max_bytes``.
        """
        direct: DirectUploads | None = getattr(self._blobs, "upload_url", None) and self._blobs  # type: ignore[assignment]
        if direct is None:
            raise InvalidBody(
                "This file store takes no direct uploads: POST the file as multipart/form-data",
            )
        if size > self._settings.max_bytes:
            raise UploadTooLarge(f"The file is larger than {self._settings.max_bytes} bytes")
        now = self._clock.now()
        upload = Upload(
            id=new_id(),
            consumer_id=consumer_id,
            name=clean_name(name),
            content_type=content_type,
            size_bytes=size,
            sha256=None,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.retention_s),
            ready=False,
        )
        ttl = self._settings.url_ttl_s
        put_url = await direct.upload_url(upload.key, content_type, ttl)
        async with self._uow() as uow:
            await uow.uploads.add(upload)
            await uow.commit()
        return DirectUpload(UploadedFile(upload, await self._url(upload)), put_url, ttl)

    async def list(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[UploadedFile]:
        """The consumer's uploads, newest first, each with a fresh link."""
        async with self._uow() as uow:
            found = await uow.uploads.list_for_consumer(consumer_id, page)
        items = [UploadedFile(u, await self._url(u)) for u in found.items]
        return Page(items=items, next_cursor=found.next_cursor)

    async def delete(self, consumer_id: uuid.UUID, upload_id: uuid.UUID) -> Upload:
        """Delete the consumer's upload, bytes first (its links stop working), and return
        it; another consumer's upload is ``NotFound``, as one that does not exist."""
        async with self._uow() as uow:
            upload = await uow.uploads.get(upload_id)
        if upload is None or upload.consumer_id != consumer_id:
            raise NotFound("File not found")
        await self._blobs.delete(upload.key)
        async with self._uow() as uow:
            await uow.uploads.delete(upload_id)
            await uow.commit()
        return upload

    async def sweep(self, limit: int = 500) -> int:
        """Delete up to ``limit`` expired uploads (rows, then bytes); their number."""
        async with self._uow() as uow:
            expired = await uow.uploads.take_expired(self._clock.now(), limit)
            await uow.commit()
        for upload in expired:
            await self._blobs.delete(upload.key)
        if expired:
            log.info("uploads.swept", extra={"files": len(expired)})
        return len(expired)

    async def _record(self, upload: Upload) -> None:
        try:
            async with self._uow() as uow:
                await uow.uploads.add(upload)
                await uow.commit()
        except BaseException:
            await self._blobs.delete(upload.key)
            raise

    async def _url(self, upload: Upload) -> str:
        return await self._blobs.url(upload.key, self._settings.url_ttl_s)


async def _typed_head(chunks: AsyncIterator[bytes], declared: str | None) -> tuple[bytes, str]:
    """The first bytes of an upload (at least ``HEAD_BYTES`` unless it is shorter) and the
    type to keep it under; ``InvalidBody`` when it is empty or not of its declared type."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    if not head:
        raise InvalidBody("The file is empty", details=[_field("is empty")])
    content_type = content_type_of(bytes(head[:HEAD_BYTES]), declared)
    if content_type is None:
        message = f"its bytes are not {declared}"
        raise InvalidBody("The file is not of its declared type", details=[_field(message)])
    return bytes(head), content_type


class _Counted:
    """The upload's bytes (``head`` then the rest of ``chunks``), hashed and counted as
    they pass; ``UploadTooLarge`` as soon as they exceed ``limit``."""

    def __init__(self, head: bytes, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._head: bytes | None = head
        self._chunks = chunks
        self._limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        chunk, self._head = self._head, None
        if chunk is None:
            chunk = await anext(self._chunks)
        self.size += len(chunk)
        if self.size > self._limit:
            raise UploadTooLarge(f"The file is larger than {self._limit} bytes")
        self.digest.update(chunk)
        return chunk


def _field(message: str) -> dict[str, str]:
    return {"field": "file", "message": message}
