"""Ledger entries name their execution's Tars model, indexed for a model's earnings.

``ledger_entries.tars_model_id`` is the model of the entry's execution (NULL when the
entry has none, as a GRANT). Existing entries are filled in from their executions: the
append-only trigger (0007) is set aside for that one statement and put back (on
PostgreSQL it rewrites each entry of a run once, in the migration's transaction). A model's
earnings per day are then read from ``ix_ledger_entries_model_type_created`` alone on
PostgreSQL (an index-only scan, the amount included) instead of joining every entry to
its execution.

Revision ID: 0017_ledger_model
Revises: 0016_stream_chunks
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_ledger_model"
down_revision: str | None = "0016_stream_chunks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_ledger_entries_model_type_created"
PG_BACKFILL = """UPDATE ledger_entries SET tars_model_id = executions.tars_model_id
    FROM executions WHERE executions.id = ledger_entries.execution_id"""
SQLITE_BACKFILL = """UPDATE ledger_entries SET tars_model_id = (
    SELECT executions.tars_model_id FROM executions
    WHERE executions.id = ledger_entries.execution_id) WHERE execution_id IS NOT NULL"""
# Frozen copy of 0007's SQLite trigger (PostgreSQL's is disabled and enabled instead).
SQLITE_APPEND_ONLY = """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END"""


def upgrade() -> None:
    """Add the column, fill it in from the executions, and index it."""
    # Plain ALTER TABLE on SQLite too: a batch copy of the table would lose its trigger.
    op.add_column("ledger_entries", sa.Column("tars_model_id", sa.Uuid(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update")
        op.execute(PG_BACKFILL)
        op.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update")
    else:
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute(SQLITE_BACKFILL)
        op.execute(SQLITE_APPEND_ONLY)
    op.create_index(
        INDEX,
        "ledger_entries",
        ["tars_model_id", "type", "created_at"],
        postgresql_include=["amount"],
    )


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index(INDEX, table_name="ledger_entries")
    op.drop_column("ledger_entries", "tars_model_id")
