"""Executions remember where their job was sent and why they wait.

- ``runpod_endpoint_id``: the provider endpoint the job was sent to (later polls and
  cancels use it even if an admin changes the endpoint's provider id meanwhile);
  in-flight executions stored before it existed get their endpoint's current id;
- ``wake_at``: when a PENDING execution needs the reconciler next;
- ``pending_reason``: why a PENDING execution waits (rate limit, provider unreachable,
  submit not confirmed);
- ``output_repairs``: how many values of the worker's output had to be made storable.

Revision ID: 0003_execution_dispatch
Revises: 0002_consumer_input
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_execution_dispatch"
down_revision: str | None = "0002_consumer_input"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the four columns and backfill the endpoint of jobs already sent."""
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("runpod_endpoint_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pending_reason", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("output_repairs", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE executions SET runpod_endpoint_id = (SELECT e.runpod_endpoint_id "
        "FROM runpod_endpoints e WHERE e.id = executions.endpoint_id) "
        "WHERE submit_attempts > 0 OR runpod_job_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the four columns."""
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("output_repairs")
        batch.drop_column("pending_reason")
        batch.drop_column("wake_at")
        batch.drop_column("runpod_endpoint_id")
