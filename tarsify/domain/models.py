"""Entities and enums of the marketplace.

Plain dataclasses: adapters map them to rows, entrypoints to JSON. Mutating methods
that carry rules live here or in the sibling modules (``states``, ``merge``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tarsify.domain.credits import effective_price
from tarsify.domain.errors import (
    BaseModelNotActive,
    EndpointNotActive,
    ModelNotPublished,
    TarsifyError,
)

JsonObject = dict[str, Any]


class EndpointSource(StrEnum):
    """Where a GPU endpoint's worker image comes from."""

    HUB = "HUB"
    CUSTOM = "CUSTOM"


class ModelCategory(StrEnum):
    """Marketplace category of a base model."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"
    TEXT = "TEXT"
    VIDEO = "VIDEO"
    DOCUMENT = "DOCUMENT"


class OutputType(StrEnum):
    """What a base model returns."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"
    TEXT = "TEXT"
    FILE = "FILE"
    JSON = "JSON"


class TarsModelStatus(StrEnum):
    """Lifecycle of a Tars model."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class ExecutionStatus(StrEnum):
    """Lifecycle of an execution."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True for the four final statuses."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.CANCELLED,
    }
)


def new_id() -> uuid.UUID:
    """A fresh random id for a new entity."""
    return uuid.uuid4()


@dataclass(slots=True)
class Developer:
    """A developer account, keyed by the identity provider's uid."""

    id: uuid.UUID
    uid: str
    email: str
    name: str | None
    created_at: datetime
    updated_at: datetime
    earnings_balance: int = 0


@dataclass(slots=True)
class Consumer:
    """A consumer account, keyed by the identity provider's uid."""

    id: uuid.UUID
    uid: str
    email: str
    name: str | None
    created_at: datetime
    updated_at: datetime
    credits_balance: int = 0
    credits_held: int = 0


@dataclass(slots=True)
class GpuEndpoint:
    """A serverless GPU endpoint at a provider (a RunPod endpoint today).

    ``provider_endpoint_id`` is the provider's own id (``runpod_endpoint_id``): internal,
    shown to admins only.
    """

    id: uuid.UUID
    provider_endpoint_id: str
    name: str
    gpu_type: str
    created_at: datetime
    updated_at: datetime
    source: EndpointSource = EndpointSource.HUB
    docker_image: str | None = None
    is_active: bool = True


@dataclass(slots=True)
class BaseModel:
    """A platform model served by one GPU endpoint, with the JSON Schema of its inputs."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    slug: str
    name: str
    category: ModelCategory
    input_schema: JsonObject
    output_type: OutputType
    output_format: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    estimated_seconds: int = 30
    is_active: bool = True
    min_price_per_run: int = 0


@dataclass(slots=True)
class TarsModel:
    """A developer's branded wrapper around a base model.

    ``config_overrides`` is kept as the JSON object of api-contract.md (camelCase keys);
    ``tarsify.domain.merge.ConfigOverrides.parse`` reads it.
    """

    id: uuid.UUID
    developer_id: uuid.UUID
    base_model_id: uuid.UUID
    title: str
    slug: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    config_overrides: JsonObject | None = None
    status: TarsModelStatus = TarsModelStatus.DRAFT
    published_at: datetime | None = None
    price_per_run: int = 0


@dataclass(slots=True, frozen=True)
class EndpointWithCount:
    """Admin listing row: an endpoint and how many base models use it."""

    endpoint: GpuEndpoint
    base_model_count: int


@dataclass(slots=True, frozen=True)
class BaseModelWithEndpoint:
    """A base model together with the endpoint that serves it."""

    base_model: BaseModel
    endpoint: GpuEndpoint


@dataclass(slots=True, frozen=True)
class MarketplaceEntry:
    """A published Tars model with what the marketplace shows next to it."""

    tars_model: TarsModel
    base_model: BaseModel
    developer_name: str | None

    @property
    def price(self) -> int:
        """What one run costs, in credits."""
        return effective_price(self.tars_model.price_per_run, self.base_model.min_price_per_run)

    def listing(self) -> MarketplaceListing:
        """What the marketplace list shows of this entry."""
        t, b = self.tars_model, self.base_model
        assert t.published_at is not None  # entries are published models
        return MarketplaceListing(
            t.id, t.slug, t.title, t.description, b.category, b.output_type,
            b.estimated_seconds, self.developer_name, t.published_at, self.price,
        )  # fmt: skip


@dataclass(slots=True, frozen=True)
class MarketplaceListing:
    """A published Tars model as the marketplace list shows it: only what is shown (no
    input schema or configuration), so that a list page reads only that."""

    id: uuid.UUID
    slug: str
    title: str
    description: str | None
    category: ModelCategory
    output_type: OutputType
    estimated_seconds: int
    developer_name: str | None
    published_at: datetime
    price: int = 0


@dataclass(slots=True, frozen=True)
class RunTarget:
    """A Tars model with the base model and endpoint that run it (read in one query)."""

    tars_model: TarsModel
    base_model: BaseModel
    endpoint: GpuEndpoint
    developer_name: str | None = None

    @property
    def price(self) -> int:
        """What one run costs, in credits (held when it starts, charged when it completes)."""
        return effective_price(self.tars_model.price_per_run, self.base_model.min_price_per_run)

    def runnable_problem(self) -> TarsifyError | None:
        """Why this model cannot run now (the one runnable-model rule), or None."""
        if self.tars_model.status is not TarsModelStatus.PUBLISHED:
            return ModelNotPublished()
        if not self.base_model.is_active:
            return BaseModelNotActive()
        if not self.endpoint.is_active:
            return EndpointNotActive()
        return None

    def check_runnable(self) -> None:
        """Raise the reason this model cannot run, if any."""
        problem = self.runnable_problem()
        if problem is not None:
            raise problem

    def marketplace_entry(self) -> MarketplaceEntry:
        """The marketplace entry of this model."""
        return MarketplaceEntry(self.tars_model, self.base_model, self.developer_name)


# The longest identity claims an account keeps (a developer's or a consumer's uid, email
# and name); longer claims are refused where a token enters.
MAX_UID_CHARS = 128
MAX_EMAIL_CHARS = 320
MAX_ACCOUNT_NAME_CHARS = 200


@dataclass(slots=True, frozen=True)
class Identity:
    """Who a verified token belongs to."""

    uid: str
    email: str
    audience: str
    name: str | None = None
    claims: JsonObject = field(default_factory=dict)
