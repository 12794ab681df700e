"""The catalog: GPU endpoints, base models and developers' Tars models."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)

from adapters.sql.tables.schema import metadata, timestamps
from adapters.sql.types import UtcDateTime, json_type, str_enum
from tarsify.domain.models import (
    EndpointSource,
    ModelCategory,
    OutputType,
    Provider,
    TarsModelStatus,
)

runpod_endpoints = Table(
    "runpod_endpoints",
    metadata,
    Column("id", Uuid(), primary_key=True),
    # The provider's own id: a RunPod endpoint id or a fal model id (the name is older
    # than fal); unique per provider.
    Column("runpod_endpoint_id", String(255), nullable=False),
    Column("name", String(100), nullable=False),
    Column(
        "source",
        str_enum(EndpointSource, "endpoint_source"),
        nullable=False,
        server_default=EndpointSource.HUB.value,
    ),
    Column("docker_image", Text),
    Column("gpu_type", String(50)),
    Column("is_active", Boolean(create_constraint=False), nullable=False, server_default=true()),
    *timestamps(),
    Column(
        "provider",
        str_enum(Provider, "endpoint_provider"),
        nullable=False,
        server_default=Provider.RUNPOD.value,
    ),
    UniqueConstraint("provider", "runpod_endpoint_id"),
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
    *timestamps(),
    Column("min_price_per_run", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("min_price_per_run >= 0", name="min_price_per_run_non_negative"),
    Column("streaming", Boolean(create_constraint=False), nullable=False, server_default=false()),
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
    *timestamps(),
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
