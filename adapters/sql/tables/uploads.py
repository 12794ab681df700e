"""Files consumers uploaded to use as run inputs (their bytes are in the blob store)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Uuid, text

from adapters.sql.tables.schema import metadata
from adapters.sql.types import UtcDateTime
from tarsify.domain.uploads import NAME_MAX_CHARS

uploads = Table(
    "uploads",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("name", String(NAME_MAX_CHARS), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("ready", Boolean, nullable=False, server_default=text("true")),
)
# A consumer's uploads, newest first; the sweep reads the oldest expiry first.
Index(
    "ix_uploads_consumer_created",
    uploads.c.consumer_id,
    uploads.c.created_at.desc(),
    uploads.c.id.desc(),
)
Index("ix_uploads_expires_at", uploads.c.expires_at)
