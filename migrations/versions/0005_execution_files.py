"""Files stored for executions: one row per file kept in the blob store.

Revision ID: 0005_execution_files
Revises: 0004_api_keys
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_execution_files"
down_revision: str | None = "0004_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``execution_files`` (deleted with its execution)."""
    op.create_table(
        "execution_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_files_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_execution_files"),
        sa.UniqueConstraint("key", name="uq_execution_files_key"),
    )
    op.create_index("ix_execution_files_execution_id", "execution_files", ["execution_id"])
    op.create_index("ix_execution_files_created_at", "execution_files", ["created_at"])


def downgrade() -> None:
    """Drop ``execution_files``."""
    op.drop_index("ix_execution_files_created_at", table_name="execution_files")
    op.drop_index("ix_execution_files_execution_id", table_name="execution_files")
    op.drop_table("execution_files")
