"""Announce only the changes of an execution that its consumer can see.

The trigger of 0008 announced every UPDATE that moved an execution's version on,
including the submit's claim, which changes nothing an event stream shows. A NOTIFY is
not free: PostgreSQL serialises the commits of notifying transactions and wakes every
listening connection. Now the trigger announces a change only when something shown of
the execution changes (status, output, error, pending reason, times); a stream that
reads the execution for another reason still sees every version.

Revision ID: 0010_announce_visible_changes
Revises: 0009_consumer_active_executions
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_announce_visible_changes"
down_revision: str | None = "0009_consumer_active_executions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of adapters/sql/feed.py's SHOWN_COLUMNS.
SHOWN = (
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
VISIBLE = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in SHOWN)
CREATE = f"""CREATE TRIGGER executions_announce AFTER UPDATE ON executions
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version AND ({VISIBLE}))
    EXECUTE FUNCTION executions_announce()"""
PREVIOUS = """CREATE TRIGGER executions_announce AFTER UPDATE ON executions
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version)
    EXECUTE FUNCTION executions_announce()"""


def upgrade() -> None:
    """Narrow the trigger (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER executions_announce ON executions")
        op.execute(CREATE)


def downgrade() -> None:
    """Announce every version again (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER executions_announce ON executions")
        op.execute(PREVIOUS)
