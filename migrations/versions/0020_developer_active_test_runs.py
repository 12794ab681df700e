"""Bound a developer's unfinished test runs in the statement that inserts one.

On PostgreSQL ``developer_active_test_runs(model)`` locks the row of the model's developer
(``FOR NO KEY UPDATE``, as 0009 locks a consumer's) and then counts the unfinished test
runs (executions without a consumer) of all that developer's models: concurrent test runs
of one developer take turns, and none counts past another's insert. SQLite counts in a
subquery under its single writer.

Revision ID: 0020_developer_active_test_runs
Revises: 0019_job_logs
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_developer_active_test_runs"
down_revision: str | None = "0019_job_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The unfinished statuses: a frozen copy of adapters/sql/tables/runs.py's
# UNFINISHED_PREDICATE.
CREATE = """CREATE FUNCTION developer_active_test_runs(model uuid) RETURNS integer AS $$
DECLARE
    owner uuid;
BEGIN
    SELECT developer_id INTO owner FROM tars_models WHERE id = model;
    PERFORM 1 FROM developers WHERE id = owner FOR NO KEY UPDATE;
    RETURN (SELECT count(*) FROM executions e JOIN tars_models t ON t.id = e.tars_model_id
            WHERE t.developer_id = owner AND e.consumer_id IS NULL
              AND e.status NOT IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'));
END;
$$ LANGUAGE plpgsql VOLATILE"""


def upgrade() -> None:
    """Create the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    """Drop the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION developer_active_test_runs(uuid)")
