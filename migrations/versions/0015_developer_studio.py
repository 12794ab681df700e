"""A developer's test runs, and the index behind each model's figures.

A test run is an execution with no consumer (``consumer_id`` NULL): a developer's free
run of their own model, in no consumer's history and no figure. Its own small partial
index lists a model's test runs. A model's figures read its consumers' runs of a window
of days from ``ix_executions_model_figures`` alone on PostgreSQL (an index-only scan:
the status and the times are included), however many runs the model has had.

Revision ID: 0015_developer_studio
Revises: 0014_uploads
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_developer_studio"
down_revision: str | None = "0014_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of adapters/sql/tables/runs.py's PAID_RUN_PREDICATE and TEST_RUN_PREDICATE.
PAID = sa.text("consumer_id IS NOT NULL")
TEST = sa.text("consumer_id IS NULL")


def upgrade() -> None:
    """Executions may have no consumer; the figures' and the test runs' indexes."""
    with op.batch_alter_table("executions") as batch:
        batch.alter_column("consumer_id", existing_type=sa.Uuid(), nullable=True)
    op.create_index(
        "ix_executions_model_figures",
        "executions",
        ["tars_model_id", "created_at"],
        postgresql_include=["status", "queue_time_ms", "execution_time_ms"],
        postgresql_where=PAID,
        sqlite_where=PAID,
    )
    op.create_index(
        "ix_executions_test_runs",
        "executions",
        ["tars_model_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=TEST,
        sqlite_where=TEST,
    )


def downgrade() -> None:
    """Drop the indexes and the test runs (with their stored files), then require a
    consumer again."""
    op.drop_index("ix_executions_test_runs", table_name="executions")
    op.drop_index("ix_executions_model_figures", table_name="executions")
    op.execute(
        "DELETE FROM execution_files WHERE execution_id IN "
        "(SELECT id FROM executions WHERE consumer_id IS NULL)"
    )
    op.execute("DELETE FROM executions WHERE consumer_id IS NULL")
    with op.batch_alter_table("executions") as batch:
        batch.alter_column("consumer_id", existing_type=sa.Uuid(), nullable=False)
