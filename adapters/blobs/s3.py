"""A ``BlobStore`` on any S3-compatible service (AWS S3, Cloudflare R2, MinIO) through
aiobotocore (the optional ``s3`` extra: ``pip install 'tarsify[s3]'``).

URLs are the store's own presigned GET URLs, so files never pass through the service.
Every failure of the store is ``BlobStoreUnavailable``, except a missing object
(``BlobNotFound``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from tarsify.domain.errors import BlobNotFound, BlobStoreUnavailable
from tarsify.domain.files import check_key
from tarsify.ports.files import StoredFile

MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
# Parts of a streamed upload: S3 wants at least 5 MiB for every part but the last.
PART_BYTES = 8 * 1024 * 1024
STORE_FAILURES = (BotoCoreError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where the bucket is and how to reach it (None: the SDK's defaults)."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    max_attempts: int = 3


class S3BlobStore:
    """Objects in one bucket, through one long-lived client (see ``open_s3_blob_store``)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        """PUT the object with its ``Content-Type``."""
        check_key(key)
        async with self._translated():
            await self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
            )
        return StoredFile(key, content_type, len(data))

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredFile:
        """One PUT when the bytes fit in one part, else a multipart upload of
        ``PART_BYTES`` parts (at most one part in memory), aborted when ``chunks`` raises."""
        check_key(key)
        iterator = aiter(chunks)
        buffer = bytearray()
        async for chunk in iterator:
            buffer += chunk
            if len(buffer) > PART_BYTES:
                break
        else:
            return await self.put(key, bytes(buffer), content_type)
        return await self._multipart(key, buffer, iterator, content_type)

    async def _multipart(
        self, key: str, buffer: bytearray, rest: AsyncIterator[bytes], content_type: str
    ) -> StoredFile:
        async with self._translated():
            started = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=content_type
            )
        upload_id = started["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0

        async def send(data: bytes) -> None:
            async with self._translated():
                answer = await self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=data,
                )
            parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})

        try:
            while True:
                while len(buffer) >= PART_BYTES:
                    await send(bytes(buffer[:PART_BYTES]))
                    size += PART_BYTES
                    del buffer[:PART_BYTES]
                chunk = await anext(rest, None)
                if chunk is None:
                    break
                buffer += chunk
            if buffer or not parts:
                await send(bytes(buffer))
                size += len(buffer)
            async with self._translated():
                await self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
            raise
        return StoredFile(key, content_type, size)

    async def upload_url(self, key: str, content_type: str, expires_in_s: int) -> str:
        """A presigned PUT URL that stores the object under ``key`` with ``content_type``
        (the client sends that ``Content-Type``); signed locally."""
        check_key(key)
        async with self._translated():
            url: str = await self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
                ExpiresIn=max(int(expires_in_s), 1),
            )
        return url

    async def read(self, key: str) -> bytes:
        """GET the object's bytes."""
        check_key(key)
        async with self._translated():
            answer = await self._client.get_object(Bucket=self._bucket, Key=key)
            async with answer["Body"] as body:
                data: bytes = await body.read()
        return data

    async def head(self, key: str) -> StoredFile:
        """HEAD the object: its ``Content-Type`` and ``Content-Length``."""
        check_key(key)
        async with self._translated():
            answer = await self._client.head_object(Bucket=self._bucket, Key=key)
        content_type = answer.get("ContentType") or "application/octet-stream"
        return StoredFile(key, str(content_type), int(answer["ContentLength"]))

    async def delete(self, key: str) -> None:
        """DELETE the object (S3 answers success for a missing one too)."""
        check_key(key)
        async with self._translated():
            await self._client.delete_object(Bucket=self._bucket, Key=key)

    async def url(self, key: str, expires_in_s: int) -> str:
        """A presigned GET URL (signed locally: no request is made)."""
        check_key(key)
        async with self._translated():
            url: str = await self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=max(int(expires_in_s), 1),
            )
        return url

    async def local_path(self, key: str) -> None:
        """None: the bytes are in the bucket."""
        check_key(key)

    async def ping(self) -> None:
        """HEAD the bucket."""
        async with self._translated():
            await self._client.head_bucket(Bucket=self._bucket)

    @contextlib.asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code")) in MISSING_CODES:
                raise BlobNotFound() from exc
            raise BlobStoreUnavailable(f"File storage refused: {error.get('Code')}") from exc
        except STORE_FAILURES as exc:
            raise BlobStoreUnavailable(f"File storage unreachable: {type(exc).__name__}") from exc


@contextlib.asynccontextmanager
async def open_s3_blob_store(settings: S3Settings) -> AsyncIterator[S3BlobStore]:
    """An ``S3BlobStore`` whose client (and its connection pool) closes on exit."""
    config = AioConfig(
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        s3={"addressing_style": "path"} if settings.endpoint_url else None,
        signature_version="s3v4",
        # Checksums only where S3 requires them: several S3-compatible stores refuse the
        # SDK's default trailing checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client_context = get_session().create_client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )
    async with client_context as client:
        yield S3BlobStore(client, settings.bucket)
