"""Webhooks to consumers: what runs asked for, the outbox of events, the attempts made,
and each consumer's signing secret."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from adapters.sql.tables.schema import metadata, partial_index, timestamps
from adapters.sql.types import UtcDateTime, json_type

# The webhook a run asked for; its id is the execution's (at most one per execution).
execution_webhooks = Table(
    "execution_webhooks",
    metadata,
    Column("id", Uuid(), ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("events", json_type(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
)
# The outbox: one row per event to deliver, written with the change that caused it.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column(
        "execution_id",
        Uuid(),
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("webhook_id", String(40), nullable=False, unique=True),
    Column("event_type", String(32), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime()),
    *timestamps(),
)
# PENDING/RETRYING only, like the delivery worker's claim: delivered and failed events
# (nearly all of them) stay out of this index.
WEBHOOK_DUE_PREDICATE = "status IN ('PENDING', 'RETRYING')"
partial_index(
    "ix_webhook_events_due",
    webhook_events.c.next_attempt_at,
    where=WEBHOOK_DUE_PREDICATE,
)
# Every attempt; (event, attempt) is unique, so no attempt is ever recorded twice.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("event_id", Uuid(), ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
    Column(
        "execution_id",
        Uuid(),
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("response_status", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    Column("next_attempt_at", UtcDateTime()),
    UniqueConstraint("event_id", "attempt"),
)
# Each consumer's signing secret (base64 of 32 bytes: it must be readable to sign).
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False, unique=True),
    Column("secret", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    Column("rotated_at", UtcDateTime()),
)
