"""Webhooks to consumers: the run's webhook, the outbox of events, attempts, secrets.

Revision ID: 0006_webhooks
Revises: 0005_execution_files
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_webhooks"
down_revision: str | None = "0005_execution_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = "status IN ('PENDING', 'RETRYING')"


def _now() -> sa.Column[sa.DateTime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    """Create ``execution_webhooks``, ``webhook_events`` (with a partial index of the due
    ones), ``webhook_deliveries`` and ``webhook_secrets``."""
    op.create_table(
        "execution_webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", _json(), nullable=False),
        _now(),
        sa.PrimaryKeyConstraint("id", name="pk_execution_webhooks"),
        sa.ForeignKeyConstraint(
            ["id"],
            ["executions.id"],
            name="fk_execution_webhooks_id_executions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name="fk_execution_webhooks_consumer_id_consumers"
        ),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        _now(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_webhook_events_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name="fk_webhook_events_consumer_id_consumers"
        ),
        sa.UniqueConstraint("webhook_id", name="uq_webhook_events_webhook_id"),
    )
    op.create_index("ix_webhook_events_execution_id", "webhook_events", ["execution_id"])
    op.create_index(
        "ix_webhook_events_due",
        "webhook_events",
        ["next_attempt_at"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        _now(),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name="fk_webhook_deliveries_event_id_webhook_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_webhook_deliveries_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("event_id", "attempt", name="uq_webhook_deliveries_event_id_attempt"),
    )
    op.create_index("ix_webhook_deliveries_execution_id", "webhook_deliveries", ["execution_id"])
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        _now(),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_secrets"),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name="fk_webhook_secrets_consumer_id_consumers"
        ),
        sa.UniqueConstraint("consumer_id", name="uq_webhook_secrets_consumer_id"),
    )


def downgrade() -> None:
    """Drop the four tables (undelivered events are lost)."""
    op.drop_table("webhook_secrets")
    op.drop_index("ix_webhook_deliveries_execution_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_events_due", table_name="webhook_events")
    op.drop_index("ix_webhook_events_execution_id", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_table("execution_webhooks")
