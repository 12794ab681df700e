"""Executions, the predicates their partial indexes are built on, and their stored
files."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)

from adapters.sql.tables.schema import metadata, partial_index, timestamps
from adapters.sql.types import UtcDateTime, json_type, str_enum
from tarsify.domain.models import ExecutionStatus

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

# A consumer's run, and a developer's test run of their own model (no consumer).
PAID_RUN_PREDICATE = "consumer_id IS NOT NULL"
TEST_RUN_PREDICATE = "consumer_id IS NULL"

executions = Table(
    "executions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    # NULL for a developer's test run of their own model (migration 0015).
    Column("consumer_id", Uuid(), ForeignKey("consumers.id")),
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
    *timestamps(),
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
    # Streamed output (migration 0016): chunks stored so far (``stream_chunks``) and the
    # worker's latest progress.
    Column("chunks", Integer, nullable=False, server_default=text("0")),
    Column("progress", json_type()),
    # The job's log lines (bounded) and its place in the provider's queue (migration 0019).
    Column("logs", json_type()),
    Column("queue_position", Integer),
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

# A model's figures (adapters/sql/stats.py): its consumers' runs of a window of days, read
# from the index alone on PostgreSQL (status and times included), never a test run.
Index(
    "ix_executions_model_figures",
    executions.c.tars_model_id,
    executions.c.created_at,
    postgresql_include=["status", "queue_time_ms", "execution_time_ms"],
    postgresql_where=text(PAID_RUN_PREDICATE),
    sqlite_where=text(PAID_RUN_PREDICATE),
)
# A model's test runs, newest first (few: kept apart from every consumer's runs).
partial_index(
    "ix_executions_test_runs",
    executions.c.tars_model_id,
    executions.c.created_at.desc(),
    executions.c.id.desc(),
    where=TEST_RUN_PREDICATE,
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
