"""Files: the blob store that keeps outputs and uploads, their links, fetching outputs
from where a GPU worker put them, and the limits of uploads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from entrypoints.config.common import MIB, Group


class FileConfig(Group):
    """BLOB_STORE, BLOB_FILESYSTEM_ROOT, BLOB_S3_*, FILE_URL_SECRET, FILE_URL_TTL,
    FILE_RETENTION_DAYS, OUTPUT_DOWNLOAD_*, MAX_UPLOAD_BYTES, UPLOAD_RETENTION_HOURS."""

    store: Literal["filesystem", "s3", "memory"] = Field(
        default="filesystem", validation_alias="BLOB_STORE"
    )
    filesystem_root: str = Field(default="./data/files", validation_alias="BLOB_FILESYSTEM_ROOT")
    s3_bucket: str | None = Field(default=None, validation_alias="BLOB_S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, validation_alias="BLOB_S3_ENDPOINT_URL")
    s3_region: str | None = Field(default=None, validation_alias="BLOB_S3_REGION")
    s3_access_key_id: str | None = Field(default=None, validation_alias="BLOB_S3_ACCESS_KEY_ID")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="BLOB_S3_SECRET_ACCESS_KEY"
    )
    url_secret: SecretStr | None = Field(default=None, validation_alias="FILE_URL_SECRET")
    # S3 presigned URLs cannot outlive 7 days.
    url_ttl: int = Field(default=3600, ge=1, le=7 * 24 * 3600, validation_alias="FILE_URL_TTL")
    retention_days: int | None = Field(default=None, ge=1, validation_alias="FILE_RETENTION_DAYS")
    download_max_bytes: int = Field(
        default=100 * MIB, ge=1024, validation_alias="OUTPUT_DOWNLOAD_MAX_BYTES"
    )
    download_timeout: float = Field(
        default=60.0, gt=0.0, validation_alias="OUTPUT_DOWNLOAD_TIMEOUT"
    )
    # GPU workers choose the URLs in their outputs: internal addresses are refused unless
    # this is set (a provider or file server on the service's own network).
    download_allow_private: bool = Field(
        default=False, validation_alias="OUTPUT_DOWNLOAD_ALLOW_PRIVATE"
    )

    # Consumers' uploads (run inputs): their size, and how long they are kept unless an
    # execution still needs them.
    max_upload_bytes: int = Field(default=100 * MIB, ge=1, validation_alias="MAX_UPLOAD_BYTES")
    upload_retention_hours: int = Field(
        default=24, ge=1, le=24 * 365, validation_alias="UPLOAD_RETENTION_HOURS"
    )

    def problems(self) -> list[str]:
        if self.store == "s3" and not (self.s3_bucket or "").strip():
            return ["BLOB_S3_BUCKET is required when BLOB_STORE=s3"]
        return []
