"""Entities and enums of the marketplace.

Dataclasses: adapters map them to rows, entrypoints to JSON. The catalog's entities
(``catalog``) and the Tars model (``tars_model``) are defined beside this module with
the rules of their changes, and named here too; an execution is its own aggregate
(``execution``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tarsify.domain.catalog import BaseModel as BaseModel
from tarsify.domain.catalog import EndpointSource as EndpointSource
from tarsify.domain.catalog import GpuEndpoint as GpuEndpoint
from tarsify.domain.catalog import ModelCategory as ModelCategory
from tarsify.domain.catalog import OutputType as OutputType
from tarsify.domain.catalog import Provider as Provider
from tarsify.domain.credits import effective_price
from tarsify.domain.errors import (
    BaseModelNotActive,
    EndpointNotActive,
    ModelNotPublished,
    TarsifyError,
    TarsModelNotFound,
)
from tarsify.domain.jsonsafe import JsonObject as JsonObject
from tarsify.domain.tars_model import TarsModel as TarsModel
from tarsify.domain.tars_model import TarsModelStatus as TarsModelStatus


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

    def runnable_problem(self, *, tester: uuid.UUID | None = None) -> TarsifyError | None:
        """Why this model cannot run now (the one runnable-model rule), or None.

        With ``tester`` (a developer's test run): the model must be that developer's own
        (not found otherwise) and may be a DRAFT as well as PUBLISHED.
        """
        status = self.tars_model.status
        if tester is not None:
            if self.tars_model.developer_id != tester:
                return TarsModelNotFound()
            if status is TarsModelStatus.ARCHIVED:
                return ModelNotPublished("An archived model cannot be test-run")
        elif status is not TarsModelStatus.PUBLISHED:
            return ModelNotPublished()
        if not self.base_model.is_active:
            return BaseModelNotActive()
        if not self.endpoint.is_active:
            return EndpointNotActive()
        return None

    def check_runnable(self, *, tester: uuid.UUID | None = None) -> None:
        """Raise the reason this model cannot run, if any (``runnable_problem``)."""
        problem = self.runnable_problem(tester=tester)
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
