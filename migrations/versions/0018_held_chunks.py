"""Chunks read but not stored yet: ``stream_readers.held``.

A streaming job's chunk that holds a file is stored once its file is in the blob store.
While the blob store is down, the chunks read from the provider's stream (consumed on
read: they cannot be read again) wait in ``held``, in order, and are stored before any
later chunk.

Revision ID: 0018_held_chunks
Revises: 0017_ledger_model
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_held_chunks"
down_revision: str | None = "0017_ledger_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``stream_readers.held``."""
    json = sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )
    with op.batch_alter_table("stream_readers") as batch:
        batch.add_column(sa.Column("held", json, nullable=True))


def downgrade() -> None:
    """Drop ``stream_readers.held``."""
    with op.batch_alter_table("stream_readers") as batch:
        batch.drop_column("held")
