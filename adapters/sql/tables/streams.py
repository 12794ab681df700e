"""Streamed output: the chunks of streaming executions, one row each, in order, and the
lease of the one process reading an execution's stream at the provider (with the chunks
it read but could not store yet)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table, Uuid

from adapters.sql.tables.schema import metadata
from adapters.sql.types import UtcDateTime, json_type

stream_chunks = Table(
    "stream_chunks",
    metadata,
    Column(
        "execution_id",
        Uuid(),
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("value", json_type()),
    Column("created_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("execution_id", "seq"),
)

stream_readers = Table(
    "stream_readers",
    metadata,
    Column(
        "execution_id",
        Uuid(),
        ForeignKey("executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("token", String(36)),
    Column("lease_until", UtcDateTime()),
    # Chunks read but not stored yet (their files wait for the blob store), in order.
    Column("held", json_type()),
)
