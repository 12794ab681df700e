"""One execution per consumer and Idempotency-Key, as a partial unique index.

The unique constraint on (consumer_id, idempotency_key) indexed every execution, though
most runs send no key (NULLs never clash). Being small and led by consumer_id, that index
was also what PostgreSQL's one plan for every consumer's history page could pick: it
read all of a consumer's executions to sort them, however many. A unique index over the
rows that have a key keeps the rule, costs nothing for runs without one, and leaves
history pages to the index that holds them in page order.

Revision ID: 0011_idempotency_key_index
Revises: 0010_announce_visible_changes
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_idempotency_key_index"
down_revision: str | None = "0010_announce_visible_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ux_executions_consumer_idempotency_key"
CONSTRAINT = "uq_executions_consumer_id_idempotency_key"
KEYED = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    """Replace the constraint with the partial unique index."""
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint(CONSTRAINT, type_="unique")
    op.create_index(
        NAME,
        "executions",
        ["consumer_id", "idempotency_key"],
        unique=True,
        postgresql_where=KEYED,
        sqlite_where=KEYED,
    )


def downgrade() -> None:
    """Back to the unique constraint over every execution."""
    op.drop_index(NAME, table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.create_unique_constraint(CONSTRAINT, ["consumer_id", "idempotency_key"])
