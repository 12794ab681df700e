"""A job's log lines and its place in the provider's queue: ``executions.logs``,
``executions.queue_position``.

Both are shown in the execution's document, so the trigger that announces a change of
what it shows covers them too.

Revision ID: 0019_job_logs
Revises: 0018_held_chunks
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_job_logs"
down_revision: str | None = "0018_held_chunks"
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
    "chunks",
    "progress",
)
SHOWN = (*SHOWN_BEFORE, "logs", "queue_position")
TRIGGER = """CREATE TRIGGER executions_announce AFTER UPDATE ON executions
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version AND ({visible}))
    EXECUTE FUNCTION executions_announce()"""


def _trigger(columns: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        visible = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        op.execute("DROP TRIGGER executions_announce ON executions")
        op.execute(TRIGGER.format(visible=visible))


def upgrade() -> None:
    """Add the columns; widen the trigger."""
    json = sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("logs", json, nullable=True))
        batch.add_column(sa.Column("queue_position", sa.Integer(), nullable=True))
    _trigger(SHOWN)


def downgrade() -> None:
    """Back to 0018's schema and trigger."""
    _trigger(SHOWN_BEFORE)
    with op.batch_alter_table("executions") as batch:
        for column in ("queue_position", "logs"):
            batch.drop_column(column)
