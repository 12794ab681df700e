"""Admit a new execution in the statement that inserts it.

On PostgreSQL ``consumer_active_executions(consumer)`` locks the consumer's row
(``FOR NO KEY UPDATE``, which the new execution's foreign key does not conflict with) and
then counts the consumer's unfinished executions. A PL/pgSQL function takes a new
snapshot for each statement it runs, so the count sees every run of this consumer that
committed while it waited for the lock: the insert of a run can then check the
active-executions limit in the same statement (``INSERT ... SELECT ... WHERE
consumer_active_executions($1) < $2``), committed as it runs, without a transaction of
its own. SQLite, with one writer at a time, counts in a subquery; nothing changes there.

Revision ID: 0009_consumer_active_executions
Revises: 0008_execution_notify
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_consumer_active_executions"
down_revision: str | None = "0008_execution_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of adapters/sql/tables/runs.py's ACTIVE_EXECUTION_PREDICATE.
CREATE = """CREATE FUNCTION consumer_active_executions(consumer uuid) RETURNS integer AS $$
BEGIN
    PERFORM 1 FROM consumers WHERE id = consumer FOR NO KEY UPDATE;
    RETURN (SELECT count(*) FROM executions
            WHERE consumer_id = consumer AND status IN ('PENDING', 'QUEUED', 'RUNNING'));
END;
$$ LANGUAGE plpgsql VOLATILE"""


def upgrade() -> None:
    """Create the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    """Drop the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION consumer_active_executions(uuid)")
