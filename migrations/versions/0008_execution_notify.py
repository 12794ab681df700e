"""Announce every change of an execution from the database itself.

On PostgreSQL a trigger runs ``pg_notify('tarsify_executions', '<id>:<version>')`` for
each UPDATE that moves an execution's version on. The notification is part of the
writing transaction (delivered on commit, never for a rollback), whatever statement or
process made the change — so a change that is a single autocommitted UPDATE needs no
transaction of its own just to announce itself. SQLite has no NOTIFY: its event streams
use in-process announcements and polling, and nothing changes there.

Revision ID: 0008_execution_notify
Revises: 0007_credits
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_execution_notify"
down_revision: str | None = "0007_credits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of adapters/sql/feed.py's CHANNEL and payload format.
CREATE = (
    """CREATE FUNCTION executions_announce() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('tarsify_executions', NEW.id::text || ':' || NEW.version::text);
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER executions_announce AFTER UPDATE ON executions
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version)
    EXECUTE FUNCTION executions_announce()""",
)


def upgrade() -> None:
    """Create the trigger (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in CREATE:
            op.execute(statement)


def downgrade() -> None:
    """Drop the trigger (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER executions_announce ON executions")
        op.execute("DROP FUNCTION executions_announce()")
