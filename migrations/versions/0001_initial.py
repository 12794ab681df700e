"""Initial schema: accounts, GPU endpoints, base models, Tars models, executions.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the enum values: later code changes must not rewrite history.
ENDPOINT_SOURCES = ("HUB", "CUSTOM")
MODEL_CATEGORIES = ("IMAGE", "AUDIO", "TEXT", "VIDEO", "DOCUMENT")
OUTPUT_TYPES = ("IMAGE", "AUDIO", "TEXT", "FILE", "JSON")
TARS_MODEL_STATUSES = ("DRAFT", "PUBLISHED", "ARCHIVED")
EXECUTION_STATUSES = (
    "PENDING",
    "QUEUED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
)
ACTIVE_PREDICATE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default else None,
    )


def _timestamps() -> list[sa.Column[object]]:
    return [
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
    ]


def _account_table(name: str, balance: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("uid", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column(balance, sa.Integer(), nullable=False, server_default=sa.text("0")),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("uid", name=f"uq_{name}_uid"),
    )


def upgrade() -> None:
    """Create every table and index."""
    _account_table("developers", "earnings_balance")
    _account_table("consumers", "credits_balance")
    op.create_table(
        "runpod_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("runpod_endpoint_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "source",
            _enum(ENDPOINT_SOURCES, "endpoint_source"),
            nullable=False,
            server_default="HUB",
        ),
        sa.Column("docker_image", sa.Text(), nullable=True),
        sa.Column("gpu_type", sa.String(50), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_runpod_endpoints"),
        sa.UniqueConstraint("runpod_endpoint_id", name="uq_runpod_endpoints_runpod_endpoint_id"),
    )
    op.create_table(
        "base_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", _enum(MODEL_CATEGORIES, "model_category"), nullable=False),
        sa.Column("input_schema", _json(), nullable=False),
        sa.Column("output_type", _enum(OUTPUT_TYPES, "output_type"), nullable=False),
        sa.Column("output_format", sa.String(20), nullable=False),
        sa.Column("estimated_seconds", sa.Integer(), nullable=False, server_default=sa.text("30")),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_base_models"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["runpod_endpoints.id"],
            name="fk_base_models_endpoint_id_runpod_endpoints",
        ),
        sa.UniqueConstraint("slug", name="uq_base_models_slug"),
    )
    op.create_index("ix_base_models_endpoint_id", "base_models", ["endpoint_id"])
    _create_tars_models()
    _create_executions()


def _create_tars_models() -> None:
    op.create_table(
        "tars_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("base_model_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config_overrides", _json(), nullable=True),
        sa.Column(
            "status",
            _enum(TARS_MODEL_STATUSES, "tars_model_status"),
            nullable=False,
            server_default="DRAFT",
        ),
        *_timestamps(),
        _ts("published_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tars_models"),
        sa.ForeignKeyConstraint(
            ["developer_id"], ["developers.id"], name="fk_tars_models_developer_id_developers"
        ),
        sa.ForeignKeyConstraint(
            ["base_model_id"],
            ["base_models.id"],
            name="fk_tars_models_base_model_id_base_models",
        ),
        sa.UniqueConstraint("slug", name="uq_tars_models_slug"),
    )
    op.create_index(
        "ix_tars_models_developer_created",
        "tars_models",
        ["developer_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_tars_models_status_published",
        "tars_models",
        ["status", sa.text("published_at DESC"), sa.text("id DESC")],
    )


def _create_executions() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=False),
        sa.Column("tars_model_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            _enum(EXECUTION_STATUSES, "execution_status"),
            nullable=False,
            server_default="PENDING",
        ),
        sa.Column("runpod_job_id", sa.Text(), nullable=True),
        sa.Column("input_payload", _json(), nullable=True),
        sa.Column("output_payload", _json(), nullable=True),
        sa.Column("error_code", sa.String(50), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        *_timestamps(),
        _ts("started_at"),
        _ts("completed_at"),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("queue_time_ms", sa.Integer(), nullable=True),
        _ts("deadline_at"),
        _ts("last_polled_at"),
        sa.Column("submit_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name="fk_executions_consumer_id_consumers"
        ),
        sa.ForeignKeyConstraint(
            ["tars_model_id"],
            ["tars_models.id"],
            name="fk_executions_tars_model_id_tars_models",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["runpod_endpoints.id"],
            name="fk_executions_endpoint_id_runpod_endpoints",
        ),
        sa.UniqueConstraint("runpod_job_id", name="uq_executions_runpod_job_id"),
        sa.UniqueConstraint(
            "consumer_id", "idempotency_key", name="uq_executions_consumer_id_idempotency_key"
        ),
    )
    op.create_index(
        "ix_executions_consumer_created",
        "executions",
        ["consumer_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index("ix_executions_tars_model_id", "executions", ["tars_model_id"])
    op.create_index("ix_executions_status", "executions", ["status"])
    op.create_index(
        "ix_executions_active_created",
        "executions",
        ["created_at", "id"],
        postgresql_where=sa.text(ACTIVE_PREDICATE),
        sqlite_where=sa.text(ACTIVE_PREDICATE),
    )


def downgrade() -> None:
    """Drop everything, children before parents (indexes go with their tables)."""
    for table in (
        "executions",
        "tars_models",
        "base_models",
        "runpod_endpoints",
        "consumers",
        "developers",
    ):
        op.drop_table(table)
