"""Output file wiring: link signing, the blob store, the downloader of provider-hosted
files."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.blobs.downloader import HttpDownloader
from adapters.blobs.filesystem import FilesystemBlobStore
from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from entrypoints.config import Settings
from tarsify.ports.files import BlobStore
from tarsify.services.uploads import UploadSettings


def make_file_url_signer(settings: Settings) -> FileUrlSigner | None:
    """Signer of the URLs of files the service serves itself; None with S3 (presigned)."""
    if settings.files.store == "s3":
        return None
    return FileUrlSigner(settings.file_url_signing_secret, settings.server.public_url)


async def open_blob_store(
    settings: Settings, signer: FileUrlSigner | None
) -> AsyncIterator[BlobStore]:
    """The process's blob store; the S3 client (and its connections) close on shutdown."""
    if settings.files.store == "s3":
        # Imported here: aiobotocore is the optional ``s3`` extra.
        from adapters.blobs.s3 import S3Settings, open_s3_blob_store

        secret = settings.files.s3_secret_access_key
        s3 = S3Settings(
            bucket=settings.files.s3_bucket or "",
            endpoint_url=settings.files.s3_endpoint_url,
            region=settings.files.s3_region,
            access_key_id=settings.files.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
        )
        async with open_s3_blob_store(s3) as store:
            yield store
        return
    assert signer is not None  # make_file_url_signer gives one for every other store
    if settings.files.store == "memory":
        yield MemoryBlobStore(signer)
    else:
        yield FilesystemBlobStore(settings.files.filesystem_root, signer)


async def open_downloader(settings: Settings) -> AsyncIterator[HttpDownloader]:
    """The downloader of provider-hosted output files; its session closes on shutdown."""
    downloader = HttpDownloader(
        max_bytes=settings.files.download_max_bytes,
        timeout_s=settings.files.download_timeout,
        allow_private=settings.files.download_allow_private,
    )
    try:
        yield downloader
    finally:
        await downloader.close()


def make_upload_settings(settings: Settings) -> UploadSettings:
    """The limits of consumers' uploads."""
    return UploadSettings(
        max_bytes=settings.files.max_upload_bytes,
        retention_s=settings.files.upload_retention_hours * 3600,
        url_ttl_s=settings.files.url_ttl,
    )
