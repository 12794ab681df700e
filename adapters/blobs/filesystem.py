"""A ``BlobStore`` in a local directory (the embedded default, ``./data/files``).

Layout under the root: ``blobs/<key>`` holds the bytes and ``meta/<key>.json`` the media
type and size. Both are written to a temporary file in the same directory and renamed
into place, so a reader never sees half a file; the bytes are written before the
metadata, so a file without metadata (a crash in between) reads as absent and is simply
written again. Keys pass ``check_key`` and the resolved path must stay under the root.
URLs are served by the service itself (``GET /files/{key}``), signed by ``FileUrlSigner``:
signing a link checks the key's form only (no filesystem access: a page of history signs
dozens); the paths are resolved, and checked to stay under the root, when the file is
written, read or served.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path
from typing import BinaryIO

from adapters.blobs.signing import FileUrlSigner
from tarsify.domain.errors import BlobNotFound, BlobStoreUnavailable, InvalidFileKey
from tarsify.domain.files import check_key
from tarsify.ports.files import StoredFile


class FilesystemBlobStore:
    """Files under ``root``; every disk operation runs in a worker thread."""

    def __init__(self, root: str | Path, signer: FileUrlSigner) -> None:
        self.root = Path(root).resolve()
        self.signer = signer

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        blob = (self.root / "blobs" / key).resolve()
        meta = (self.root / "meta" / f"{key}.json").resolve()
        # Defence in depth: check_key already refuses '..', but a symlink could still lead out.
        if not (blob.is_relative_to(self.root) and meta.is_relative_to(self.root)):
            raise InvalidFileKey()
        return blob, meta

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        """Write the bytes, then the metadata, each atomically."""
        blob, meta = self._paths(key)
        info = json.dumps({"contentType": content_type, "size": len(data)}).encode()
        try:
            await asyncio.to_thread(_write_atomically, blob, data)
            await asyncio.to_thread(_write_atomically, meta, info)
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot write file: {exc.strerror}") from exc
        return StoredFile(key, content_type, len(data))

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredFile:
        """Write the chunks to a temporary file as they come, then rename it into place
        and write the metadata; the temporary file is removed when ``chunks`` raises."""
        blob, meta = self._paths(key)
        try:
            handle, temporary = await asyncio.to_thread(_temporary_beside, blob)
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot write file: {exc.strerror}") from exc
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_finish, handle, temporary, blob)
        except BaseException as exc:
            await asyncio.to_thread(_discard, handle, temporary)
            if isinstance(exc, OSError):
                raise BlobStoreUnavailable(f"Cannot write file: {exc.strerror}") from exc
            raise
        info = json.dumps({"contentType": content_type, "size": size}).encode()
        try:
            await asyncio.to_thread(_write_atomically, meta, info)
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot write file: {exc.strerror}") from exc
        return StoredFile(key, content_type, size)

    async def local_path(self, key: str) -> Path:
        """Where the bytes of a stored file lie (served from there, never read whole);
        ``BlobNotFound`` when absent. Its type and size are ``head``'s."""
        blob, _ = self._paths(key)
        if not await asyncio.to_thread(blob.is_file):
            raise BlobNotFound()
        return blob

    async def read(self, key: str) -> bytes:
        """The stored bytes; ``BlobNotFound`` when absent."""
        await self.head(key)
        blob, _ = self._paths(key)
        try:
            return await asyncio.to_thread(blob.read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot read file: {exc.strerror}") from exc

    async def head(self, key: str) -> StoredFile:
        """Type and size from the metadata; ``BlobNotFound`` when absent."""
        _, meta = self._paths(key)
        try:
            info = json.loads(await asyncio.to_thread(meta.read_bytes))
            return StoredFile(key, str(info["contentType"]), int(info["size"]))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFound() from exc
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot read file: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise BlobNotFound() from exc

    async def delete(self, key: str) -> None:
        """Remove the metadata, then the bytes (no error when absent)."""
        blob, meta = self._paths(key)
        try:
            await asyncio.to_thread(meta.unlink, missing_ok=True)
            await asyncio.to_thread(blob.unlink, missing_ok=True)
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot delete file: {exc.strerror}") from exc

    async def url(self, key: str, expires_in_s: int) -> str:
        """A signed URL of the service's own file route (the key's form is checked; its
        paths are resolved when the link is served, not here)."""
        return self.signer.url(check_key(key), expires_in_s)

    async def ping(self) -> None:
        """A file can be written where files go (the root and its ``blobs`` directory are
        created when missing). Tried, not judged from permissions: root ignores them, a
        read-only mount or a full disk does not."""
        try:
            await asyncio.to_thread(_probe_write, self.root / "blobs")
        except OSError as exc:
            raise BlobStoreUnavailable(
                f"File storage cannot be written: {exc.strerror or exc}"
            ) from exc


def _probe_write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory, prefix=".tmp-probe-") as probe:
        probe.write(b"x")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _temporary_beside(path: Path) -> tuple[BinaryIO, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    return os.fdopen(handle, "wb"), Path(temporary)


def _finish(handle: BinaryIO, temporary: Path, path: Path) -> None:
    with handle:
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _discard(handle: BinaryIO, temporary: Path) -> None:
    handle.close()
    temporary.unlink(missing_ok=True)
