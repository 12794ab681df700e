"""Count a consumer's unfinished executions from the consumer's own index only.

``consumer_active_executions`` (migration 0009) counts the consumer's unfinished
executions on every run. Inside the function its statement is prepared, and PostgreSQL
may keep one plan for every consumer. Made from statistics of a quiet moment (hardly an
unfinished execution anywhere), that plan read the index of every unfinished execution
(``ix_executions_active_created``) and kept the consumer's: under a burst of runs each
run read thousands of other consumers' jobs. Both partial indexes had the same
predicate, so either could serve the count. Spelled ``status NOT IN (the final
statuses)`` (the same rows: the column's CHECK allows no other status), the predicate
of ``ix_executions_consumer_active`` and of the count leave only that index usable.

Revision ID: 0012_unfinished_by_consumer
Revises: 0011_idempotency_key_index
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_unfinished_by_consumer"
down_revision: str | None = "0011_idempotency_key_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_executions_consumer_active"
# Frozen copies of adapters/sql/tables/runs.py's UNFINISHED_PREDICATE and of the predicate
# before it (ACTIVE_EXECUTION_PREDICATE).
UNFINISHED = "status NOT IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED')"
ACTIVE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"

FUNCTION = """CREATE OR REPLACE FUNCTION consumer_active_executions(consumer uuid)
RETURNS integer AS $$
BEGIN
    PERFORM 1 FROM consumers WHERE id = consumer FOR NO KEY UPDATE;
    RETURN (SELECT count(*) FROM executions
            WHERE consumer_id = consumer AND {predicate});
END;
$$ LANGUAGE plpgsql VOLATILE"""


def _index(predicate: str) -> None:
    op.drop_index(NAME, table_name="executions")
    where = sa.text(predicate)
    op.create_index(NAME, "executions", ["consumer_id"], postgresql_where=where, sqlite_where=where)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.format(predicate=predicate))


def upgrade() -> None:
    """The index and the count with the NOT IN predicate."""
    _index(UNFINISHED)


def downgrade() -> None:
    """Back to the IN predicate."""
    _index(ACTIVE)
