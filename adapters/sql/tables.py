"""SQLAlchemy Core tables; ``migrations/versions`` creates exactly this schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
    true,
)

from adapters.sql.types import UtcDateTime, json_type, str_enum
from tarsify.domain.credits import MAX_REASON_CHARS, AccountType, EntryType
from tarsify.domain.models import (
    MAX_ACCOUNT_NAME_CHARS,
    MAX_EMAIL_CHARS,
    MAX_UID_CHARS,
    EndpointSource,
    ExecutionStatus,
    ModelCategory,
    OutputType,
    TarsModelStatus,
)

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def partial_index(name: str, *columns: Any, where: str, unique: bool = False) -> Index:
    """An index over the rows ``where`` holds, on PostgreSQL and SQLite alike."""
    predicate = text(where)
    return Index(name, *columns, unique=unique, postgresql_where=predicate, sqlite_where=predicate)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

NON_TERMINAL_STATUSES = (
    ExecutionStatus.PENDING,
    ExecutionStatus.QUEUED,
    ExecutionStatus.RUNNING,
)
# The partial index predicate; queries must repeat it literally for the planner to use it.
ACTIVE_EXECUTION_PREDICATE = "status IN ({})".format(
    ", ".join(f"'{status.value}'" for status in NON_TERMINAL_STATUSES)
)
# The same rows, spelled so that only the consumer's index of them can serve a count of a
# consumer's unfinished executions: with the predicate above, the one plan PostgreSQL
# keeps for every consumer could read every unfinished execution instead (migration 0012).
UNFINISHED_PREDICATE = "status NOT IN ({})".format(
    ", ".join(f"'{status.value}'" for status in ExecutionStatus if status.is_terminal)
)
# Ledger rules the database enforces (migration 0007 spells the same text).
SETTLEMENT_PREDICATE = "type IN ('CAPTURE', 'RELEASE')"
LEDGER_SIGN_RULE = (
    "(type IN ('GRANT', 'RELEASE', 'EARNING', 'FEE') AND amount > 0) "
    "OR (type IN ('HOLD', 'CAPTURE') AND amount < 0)"
)
LEDGER_ACCOUNT_RULE = (
    "(account_type = 'CONSUMER' AND account_id IS NOT NULL "
    "AND type IN ('GRANT', 'HOLD', 'CAPTURE', 'RELEASE')) "
    "OR (account_type = 'DEVELOPER' AND account_id IS NOT NULL AND type = 'EARNING') "
    "OR (account_type = 'PLATFORM' AND account_id IS NULL AND type = 'FEE')"
)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
        Column("updated_at", UtcDateTime(), nullable=False, server_default=func.now()),
    ]


developers = Table(
    "developers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("uid", String(MAX_UID_CHARS), nullable=False, unique=True),
    Column("email", String(MAX_EMAIL_CHARS), nullable=False),
    Column("name", String(MAX_ACCOUNT_NAME_CHARS)),
    Column("earnings_balance", BigInteger, nullable=False, server_default=text("0")),
    *_timestamps(),
    CheckConstraint("earnings_balance >= 0", name="earnings_balance_non_negative"),
)

consumers = Table(
    "consumers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("uid", String(MAX_UID_CHARS), nullable=False, unique=True),
    Column("email", String(MAX_EMAIL_CHARS), nullable=False),
    Column("name", String(MAX_ACCOUNT_NAME_CHARS)),
    Column("credits_balance", BigInteger, nullable=False, server_default=text("0")),
    *_timestamps(),
    # Credits reserved by unfinished runs (see ledger_entries).
    Column("credits_held", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("credits_balance >= 0", name="credits_balance_non_negative"),
    CheckConstraint("credits_held >= 0", name="credits_held_non_negative"),
)

runpod_endpoints = Table(
    "runpod_endpoints",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("runpod_endpoint_id", String(255), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column(
        "source",
        str_enum(EndpointSource, "endpoint_source"),
        nullable=False,
        server_default=EndpointSource.HUB.value,
    ),
    Column("docker_image", Text),
    Column("gpu_type", String(50), nullable=False),
    Column("is_active", Boolean(create_constraint=False), nullable=False, server_default=true()),
    *_timestamps(),
)

base_models = Table(
    "base_models",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("endpoint_id", Uuid(), ForeignKey("runpod_endpoints.id"), nullable=False, index=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("category", str_enum(ModelCategory, "model_category"), nullable=False),
    Column("input_schema", json_type(), nullable=False),
    Column("output_type", str_enum(OutputType, "output_type"), nullable=False),
    Column("output_format", String(20), nullable=False),
    Column("estimated_seconds", Integer, nullable=False, server_default=text("30")),
    Column("is_active", Boolean(create_constraint=False), nullable=False, server_default=true()),
    *_timestamps(),
    Column("min_price_per_run", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("min_price_per_run >= 0", name="min_price_per_run_non_negative"),
)

tars_models = Table(
    "tars_models",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("developer_id", Uuid(), ForeignKey("developers.id"), nullable=False),
    Column("base_model_id", Uuid(), ForeignKey("base_models.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("slug", String(200), nullable=False, unique=True),
    Column("description", Text),
    Column("config_overrides", json_type()),
    Column(
        "status",
        str_enum(TarsModelStatus, "tars_model_status"),
        nullable=False,
        server_default=TarsModelStatus.DRAFT.value,
    ),
    *_timestamps(),
    Column("published_at", UtcDateTime()),
    Column("price_per_run", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("price_per_run >= 0", name="price_per_run_non_negative"),
)
# These two serve the developer's list and the marketplace page by page; they also cover
# the plan's single-column (developer_id) and (status) indexes, which would be redundant.
Index(
    "ix_tars_models_developer_created",
    tars_models.c.developer_id,
    tars_models.c.created_at.desc(),
    tars_models.c.id.desc(),
)
Index(
    "ix_tars_models_status_published",
    tars_models.c.status,
    tars_models.c.published_at.desc(),
    tars_models.c.id.desc(),
)

executions = Table(
    "executions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("tars_model_id", Uuid(), ForeignKey("tars_models.id"), nullable=False, index=True),
    Column("endpoint_id", Uuid(), ForeignKey("runpod_endpoints.id"), nullable=False),
    Column(
        "status",
        str_enum(ExecutionStatus, "execution_status"),
        nullable=False,
        server_default=ExecutionStatus.PENDING.value,
        index=True,
    ),
    Column("runpod_job_id", Text, unique=True),
    Column("consumer_input", json_type()),
    Column("input_payload", json_type()),
    Column("output_payload", json_type()),
    Column("error_code", String(50)),
    Column("error_message", Text),
    *_timestamps(),
    Column("started_at", UtcDateTime()),
    Column("completed_at", UtcDateTime()),
    Column("execution_time_ms", Integer),
    Column("queue_time_ms", Integer),
    Column("deadline_at", UtcDateTime()),
    Column("last_polled_at", UtcDateTime()),
    Column("submit_attempts", Integer, nullable=False, server_default=text("0")),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(128)),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("runpod_endpoint_id", String(255)),
    Column("wake_at", UtcDateTime()),
    Column("pending_reason", String(32)),
    Column("output_repairs", Integer, nullable=False, server_default=text("0")),
    # Credits held at creation: captured on COMPLETED, released on any other end.
    Column("price", Integer, nullable=False, server_default=text("0")),
)
# History pages: equality on consumer, then the keyset order (created_at, id) both DESC.
Index(
    "ix_executions_consumer_created",
    executions.c.consumer_id,
    executions.c.created_at.desc(),
    executions.c.id.desc(),
)
# The reconciler scans only unfinished executions, oldest first; terminal rows (the vast
# majority) stay out of this index.
partial_index(
    "ix_executions_active_created",
    executions.c.created_at,
    executions.c.id,
    where=ACTIVE_EXECUTION_PREDICATE,
)
# One execution per consumer and Idempotency-Key. Partial: most runs send no key, and a
# full index led with consumer_id is one more index the planner may prefer (it is
# small) for a history page, where it reads the consumer's whole history to sort it.
partial_index(
    "ux_executions_consumer_idempotency_key",
    executions.c.consumer_id,
    executions.c.idempotency_key,
    where="idempotency_key IS NOT NULL",
    unique=True,
)
# A consumer's unfinished executions, counted on every run (the active-executions limit).
partial_index(
    "ix_executions_consumer_active",
    executions.c.consumer_id,
    where=UNFINISHED_PREDICATE,
)

# Files stored for executions (the bytes are in the blob store); deleted with them.
execution_files = Table(
    "execution_files",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column(
        "execution_id",
        Uuid(),
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("key", String(512), nullable=False, unique=True),
    Column("content_type", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
)
# Retention sweeps read the oldest files first.
Index("ix_execution_files_created_at", execution_files.c.created_at)
# Consumers' API keys: only an HMAC of each key is stored, looked up by its unique index.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)
# A consumer's key list, newest first.
Index(
    "ix_api_keys_consumer_created",
    api_keys.c.consumer_id,
    api_keys.c.created_at.desc(),
    api_keys.c.id.desc(),
)

# --- webhooks to consumers -------------------------------------------------------------

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
    *_timestamps(),
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

# --- credits ----------------------------------------------------------------------------

# The append-only ledger of credits (tarsify/domain/credits.py): every movement is a row;
# balances on consumers and developers are kept in the same transaction and can be
# rebuilt from these rows alone (``tarsify ledger check``). A trigger refuses UPDATE.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("account_type", str_enum(AccountType, "ledger_account_type"), nullable=False),
    Column("account_id", Uuid()),
    Column("type", str_enum(EntryType, "ledger_entry_type"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("execution_id", Uuid(), ForeignKey("executions.id")),
    Column("reason", String(MAX_REASON_CHARS)),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    # Exactly once: one entry of each type per execution.
    UniqueConstraint("execution_id", "type"),
    CheckConstraint(LEDGER_SIGN_RULE, name="amount_sign"),
    CheckConstraint(LEDGER_ACCOUNT_RULE, name="account_of_type"),
)
# An account's ledger page by page, newest first.
Index(
    "ix_ledger_entries_account_created",
    ledger_entries.c.account_type,
    ledger_entries.c.account_id,
    ledger_entries.c.created_at.desc(),
    ledger_entries.c.id.desc(),
)
# One settlement per execution: a hold is either captured or released, never both.
partial_index(
    "ux_ledger_entries_settlement",
    ledger_entries.c.execution_id,
    where=SETTLEMENT_PREDICATE,
    unique=True,
)
