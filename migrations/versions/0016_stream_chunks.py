"""Streamed output: base models that stream, the chunks of their executions, progress.

``base_models.streaming`` says a model's worker yields chunks. Each chunk is a row of
``stream_chunks`` (its place ``seq`` and its id in the execution's event stream);
``executions.chunks`` counts them, ``executions.progress`` is the worker's latest progress
report, and a row of ``stream_readers`` is the lease of the one process reading the
job's stream at the provider. The announcing trigger (0008, 0010) now also
announces a change of the chunks or the progress.

Revision ID: 0016_stream_chunks
Revises: 0015_developer_studio
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_stream_chunks"
down_revision: str | None = "0015_developer_studio"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of adapters/sql/feed.py's SHOWN_COLUMNS, before and after.
SHOWN_BEFORE = (
    "status",
    "output_payload",
    "error_code",
    "error_message",
    "pending_reason",
    "started_at",
    "completed_at",
    "execution_time_ms",
    "queue_time_ms",
)
SHOWN = (*SHOWN_BEFORE, "chunks", "progress")
TRIGGER = """CREATE TRIGGER executions_announce AFTER UPDATE ON executions
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version AND ({visible}))
    EXECUTE FUNCTION executions_announce()"""


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _trigger(columns: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        visible = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        op.execute("DROP TRIGGER executions_announce ON executions")
        op.execute(TRIGGER.format(visible=visible))


def upgrade() -> None:
    """Add the columns, ``stream_chunks`` and ``stream_readers``; widen the trigger."""
    with op.batch_alter_table("base_models") as batch:
        batch.add_column(
            sa.Column("streaming", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("chunks", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("progress", _json(), nullable=True))
    op.create_table(
        "stream_chunks",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_stream_chunks"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_stream_chunks_execution_id_executions",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "stream_readers",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", name="pk_stream_readers"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_stream_readers_execution_id_executions",
            ondelete="CASCADE",
        ),
    )
    _trigger(SHOWN)


def downgrade() -> None:
    """Back to 0012's schema and trigger."""
    _trigger(SHOWN_BEFORE)
    op.drop_table("stream_readers")
    op.drop_table("stream_chunks")
    with op.batch_alter_table("executions") as batch:
        for column in ("progress", "chunks"):
            batch.drop_column(column)
    with op.batch_alter_table("base_models") as batch:
        batch.drop_column("streaming")
