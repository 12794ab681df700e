"""Executions keep the consumer's own inputs apart from the merged worker payload.

Revision ID: 0002_consumer_input
Revises: 0001_initial
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_consumer_input"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Add ``executions.consumer_input`` (NULL for executions stored before it existed)."""
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("consumer_input", _json(), nullable=True))


def downgrade() -> None:
    """Drop ``executions.consumer_input``."""
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("consumer_input")
