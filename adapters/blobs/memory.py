"""An in-memory ``BlobStore``: the fake for tests and the store of ``memory://`` demos.

Its URLs are served by the service itself (``GET /files/{key}``), signed like the
filesystem store's. Set ``down`` to make every call raise ``BlobStoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from adapters.blobs.signing import FileUrlSigner
from tarsify.domain.errors import BlobNotFound, BlobStoreUnavailable
from tarsify.domain.files import check_key
from tarsify.ports.files import StoredFile

TEST_SECRET = "memory-blob-store-test-secret"


class MemoryBlobStore:
    """Files in a dict; ``files`` maps key -> (bytes, content type) for assertions."""

    def __init__(self, signer: FileUrlSigner | None = None) -> None:
        self.signer = signer or FileUrlSigner(TEST_SECRET, "http://127.0.0.1")
        self.files: dict[str, tuple[bytes, str]] = {}
        self.down = False

    def _check(self, key: str) -> str:
        if self.down:
            raise BlobStoreUnavailable()
        return check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        """Store a copy of ``data``."""
        self.files[self._check(key)] = (bytes(data), content_type)
        return StoredFile(key, content_type, len(data))

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredFile:
        """Collect the chunks, then store them (nothing when ``chunks`` raises)."""
        self._check(key)
        parts = [bytes(chunk) async for chunk in chunks]
        return await self.put(key, b"".join(parts), content_type)

    async def read(self, key: str) -> bytes:
        """The stored bytes; ``BlobNotFound`` when absent."""
        found = self.files.get(self._check(key))
        if found is None:
            raise BlobNotFound()
        return found[0]

    async def head(self, key: str) -> StoredFile:
        """Type and size of the stored file; ``BlobNotFound`` when absent."""
        found = self.files.get(self._check(key))
        if found is None:
            raise BlobNotFound()
        return StoredFile(key, found[1], len(found[0]))

    async def delete(self, key: str) -> None:
        """Forget the file (no error when absent)."""
        self.files.pop(self._check(key), None)

    async def url(self, key: str, expires_in_s: int) -> str:
        """A signed URL of the service's own file route."""
        return self.signer.url(self._check(key), expires_in_s)

    async def local_path(self, key: str) -> None:
        """None: the bytes are in memory, not on a disk."""
        self._check(key)

    async def ping(self) -> None:
        """Raise ``BlobStoreUnavailable`` while switched down."""
        if self.down:
            raise BlobStoreUnavailable()
