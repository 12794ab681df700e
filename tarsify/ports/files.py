"""Files of outputs and uploads: the blob store that keeps them and the downloader that
fetches outputs from the provider."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(slots=True, frozen=True)
class StoredFile:
    """A file as a blob store holds it: its key, media type and size in bytes."""

    key: str
    content_type: str
    size: int


class BlobStore(Protocol):
    """Where output files live (a directory, an S3 bucket, memory).

    Keys are checked with ``tarsify.domain.files.check_key`` (``InvalidFileKey``).
    Every method raises ``BlobStoreUnavailable`` when the store cannot be reached or
    fails, so callers can retry later; ``read``/``head`` raise ``BlobNotFound`` for a
    key that holds nothing.
    """

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        """Store ``data`` under ``key`` (replacing any previous file), all or nothing."""
        ...

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredFile:
        """Store the bytes of ``chunks`` under ``key`` as they come, never holding them
        all in memory. All or nothing: when ``chunks`` raises, nothing is kept under
        ``key`` and the exception propagates."""
        ...

    async def read(self, key: str) -> bytes:
        """The exact bytes stored under ``key``."""
        ...

    async def head(self, key: str) -> StoredFile:
        """Media type and size of the file under ``key``, without its bytes."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; deleting a missing key is not an error."""
        ...

    async def url(self, key: str, expires_in_s: int) -> str:
        """An absolute URL that reads the file with a GET until ``expires_in_s`` from now."""
        ...

    async def ping(self) -> None:
        """Return when the store answers; raise ``BlobStoreUnavailable`` otherwise."""
        ...

    async def local_path(self, key: str) -> Path | None:
        """Where the file's bytes lie on this machine's disk, for a store that keeps them
        there (they can then be sent without being read whole); None for a store that
        does not. ``BlobNotFound`` when a store on disk holds nothing under ``key``."""
        ...


class DirectUploads(Protocol):
    """A store that clients can write to directly (S3's presigned PUT URLs)."""

    async def upload_url(self, key: str, content_type: str, expires_in_s: int) -> str:
        """A URL that stores a ``PUT``'s body under ``key`` until ``expires_in_s`` from
        now; the client sends ``Content-Type: content_type``."""
        ...


@dataclass(slots=True, frozen=True)
class Download:
    """A downloaded file: its bytes and the media type the server announced (if any)."""

    data: bytes
    content_type: str | None = None


class Downloader(Protocol):
    """Fetches files that providers return by URL, before those URLs expire."""

    async def fetch(self, url: str) -> Download:
        """GET an ``http(s)`` URL; raise ``OutputDownloadFailed`` for a refused URL, an
        HTTP error, a timeout or a body over the adapter's size limit."""
        ...
