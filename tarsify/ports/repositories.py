"""Repositories: one per aggregate, read and written inside a ``UnitOfWork``.

They never commit, return copies, raise ``AlreadyExists`` on unique clashes and
``StorageError`` for any storage failure."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from tarsify.domain.admission import Admission
from tarsify.domain.api_keys import ApiKey, ApiKeyOwner
from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.files import ExecutionFile
from tarsify.domain.models import (
    BaseModel,
    BaseModelWithEndpoint,
    Consumer,
    Developer,
    EndpointWithCount,
    ExecutionStatus,
    GpuEndpoint,
    MarketplaceListing,
    ModelCategory,
    Provider,
    RunTarget,
    TarsModel,
)
from tarsify.domain.pagination import Page, PageRequest


class DeveloperRepository(Protocol):
    """Developers by id and by identity-provider uid."""

    async def add(self, developer: Developer) -> None:
        """Insert; raises ``AlreadyExists`` when the uid is taken."""
        ...

    async def get(self, developer_id: uuid.UUID) -> Developer | None:
        """By id."""
        ...

    async def get_by_uid(self, uid: str) -> Developer | None:
        """By the identity provider's uid."""
        ...


class ConsumerRepository(Protocol):
    """Consumers by id and by identity-provider uid."""

    async def add(self, consumer: Consumer) -> None:
        """Insert; raises ``AlreadyExists`` when the uid is taken."""
        ...

    async def get(self, consumer_id: uuid.UUID) -> Consumer | None:
        """By id."""
        ...

    async def get_by_uid(self, uid: str) -> Consumer | None:
        """By the identity provider's uid."""
        ...


class EndpointRepository(Protocol):
    """GPU endpoints."""

    async def add(self, endpoint: GpuEndpoint) -> None:
        """Insert; raises ``AlreadyExists`` when the provider endpoint id is taken."""
        ...

    async def get(self, endpoint_id: uuid.UUID) -> GpuEndpoint | None:
        """By id."""
        ...

    async def get_by_provider_id(
        self, provider: Provider, provider_endpoint_id: str
    ) -> GpuEndpoint | None:
        """By the provider and its own endpoint id."""
        ...

    async def update(self, endpoint: GpuEndpoint) -> None:
        """Store every field; raises ``AlreadyExists`` on a provider id clash."""
        ...

    async def list(self, page: PageRequest) -> Page[EndpointWithCount]:
        """All endpoints (active or not), newest first, with their base model counts."""
        ...


class BaseModelRepository(Protocol):
    """Base models."""

    async def add(self, base_model: BaseModel) -> None:
        """Insert; raises ``AlreadyExists`` when the slug is taken."""
        ...

    async def get(self, base_model_id: uuid.UUID) -> BaseModel | None:
        """By id."""
        ...

    async def get_by_slug(self, slug: str) -> BaseModel | None:
        """By slug."""
        ...

    async def update(self, base_model: BaseModel) -> None:
        """Store every field; raises ``AlreadyExists`` on a slug clash."""
        ...

    async def list(
        self, page: PageRequest, *, browsable_only: bool = False
    ) -> Page[BaseModelWithEndpoint]:
        """Newest first with endpoints; ``browsable_only`` keeps active models on active
        endpoints."""
        ...


class TarsModelRepository(Protocol):
    """Tars models."""

    async def add(self, tars_model: TarsModel) -> None:
        """Insert; raises ``AlreadyExists`` when the slug is taken."""
        ...

    async def get(self, tars_model_id: uuid.UUID) -> TarsModel | None:
        """By id."""
        ...

    async def get_by_slug(self, slug: str) -> TarsModel | None:
        """By slug."""
        ...

    async def get_run_target(self, slug: str) -> RunTarget | None:
        """The model with its base model, endpoint and developer's name, in one read."""
        ...

    async def update(self, tars_model: TarsModel) -> None:
        """Store every field; raises ``AlreadyExists`` on a slug clash."""
        ...

    async def list_for_developer(
        self, developer_id: uuid.UUID, page: PageRequest
    ) -> Page[TarsModel]:
        """A developer's models (every status), newest created first."""
        ...

    async def list_published(
        self, page: PageRequest, *, category: ModelCategory | None = None
    ) -> Page[MarketplaceListing]:
        """PUBLISHED models whose base model and endpoint are active, newest published
        first (cursor over ``published_at, id``); ``category`` filters on the base model.
        Only the listed fields are read."""
        ...


# A write that follows from a change (a ledger entry, an outbox event): see ``UnitOfWork``.
FollowUp = Callable[[], Awaitable[None]]


class ExecutionRepository(Protocol):
    """Executions, with compare-and-set updates. ``admit``, ``update`` and
    ``try_mark_polled`` given ``then`` make a whole change (``UnitOfWork``)."""

    async def add(self, execution: Execution) -> None:
        """Insert; raises ``AlreadyExists`` when (consumer, idempotency key) is taken."""
        ...

    async def admit(
        self, execution: Execution, admission: Admission, *, then: Sequence[FollowUp] | None = None
    ) -> bool:
        """Insert only if ``admission`` holds, decided atomically with the insert (one
        statement where the database allows); False when it did not (nothing stored).
        Raises ``AlreadyExists`` like ``add``."""
        ...

    async def get(self, execution_id: uuid.UUID) -> Execution | None:
        """By id."""
        ...

    async def get_view(self, execution_id: uuid.UUID) -> ExecutionView | None:
        """By id, with the slug and title of its Tars model (one query); without the
        merged ``input_payload`` (None), which is never shown."""
        ...

    async def get_by_idempotency_key(self, consumer_id: uuid.UUID, key: str) -> Execution | None:
        """The consumer's execution created with this Idempotency-Key."""
        ...

    async def forget_idempotency_key(self, execution_id: uuid.UUID, key: str) -> None:
        """The execution no longer holds ``key`` (if it still did): the key is free for a
        new execution. Nothing else changes (no new version)."""
        ...

    async def holder_of_job(self, job_id: str) -> uuid.UUID | None:
        """The id of the execution that has recorded provider job ``job_id``, if any."""
        ...

    async def update(self, execution: Execution, *, then: Sequence[FollowUp] | None = None) -> bool:
        """Store every field if the stored ``version`` still equals ``execution.version``.

        On success the stored and the given version both become ``version + 1`` and True
        is returned; False means another writer changed it first (nothing was written).
        """
        ...

    async def try_mark_polled(
        self,
        execution_id: uuid.UUID,
        now: datetime,
        polled_before: datetime,
        *,
        then: Sequence[FollowUp] | None = None,
    ) -> bool:
        """Set ``last_polled_at = now`` if the execution is non-terminal and was last
        polled at or before ``polled_before`` (or never). Does not change ``version``.
        True means the caller may ask the provider now."""
        ...

    async def claim_due(
        self, now: datetime, polled_before: datetime, limit: int
    ) -> list[Execution]:
        """Claim up to ``limit`` non-terminal executions last polled at or before
        ``polled_before`` (or never), oldest created first, setting their
        ``last_polled_at = now`` (version unchanged). On PostgreSQL rows locked by
        another claimer are skipped (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def list_completed(
        self, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Execution]:
        """COMPLETED executions after ``after`` (created_at, id), oldest first: a scan
        that can stop and resume anywhere."""
        ...

    async def list_for_consumer(
        self,
        consumer_id: uuid.UUID,
        page: PageRequest,
        *,
        status: ExecutionStatus | None = None,
        tars_model_id: uuid.UUID | None = None,
    ) -> Page[ExecutionSummary]:
        """The consumer's executions, newest created first, each as what a list shows of
        it (none of ``NOT_LISTED``) with its model's slug and title."""
        ...

    async def list_test_runs(
        self, tars_model_id: uuid.UUID, page: PageRequest
    ) -> Page[ExecutionSummary]:
        """The model's test runs (no consumer), newest created first, listed like a
        consumer's executions."""
        ...


class ExecutionFileRepository(Protocol):
    """The files stored for executions (their bytes live in the ``BlobStore``)."""

    async def add(self, file: ExecutionFile) -> None:
        """Insert; raises ``AlreadyExists`` when the key is recorded already."""
        ...

    async def list_for_execution(self, execution_id: uuid.UUID) -> list[ExecutionFile]:
        """The execution's files, oldest first (then by key)."""
        ...

    async def list_created_before(self, cutoff: datetime, limit: int) -> list[ExecutionFile]:
        """Up to ``limit`` files recorded before ``cutoff``, oldest first."""
        ...

    async def delete(self, file_id: uuid.UUID) -> None:
        """Forget one file row (its bytes are deleted from the blob store separately)."""
        ...


class ApiKeyRepository(Protocol):
    """Consumers' API keys, found by the hash of the key (never the key itself)."""

    async def add(self, api_key: ApiKey) -> None:
        """Insert; raises ``AlreadyExists`` when the hash is taken."""
        ...

    async def add_within(self, api_key: ApiKey, max_active: int) -> bool:
        """Insert only while the consumer has fewer than ``max_active`` unrevoked keys,
        decided atomically with the insert (concurrent adds of one consumer take turns);
        False when not (nothing stored). Raises ``AlreadyExists`` like ``add``."""
        ...

    async def get(self, api_key_id: uuid.UUID) -> ApiKey | None:
        """By id, revoked or not."""
        ...

    async def find_active(self, key_hash: str) -> ApiKeyOwner | None:
        """The unrevoked key with this hash and its consumer's uid, email and name."""
        ...

    async def list_active(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[ApiKey]:
        """The consumer's unrevoked keys, newest created first."""
        ...

    async def revoke(self, api_key_id: uuid.UUID, now: datetime) -> bool:
        """Set ``revoked_at = now`` unless already revoked; True when this call did it."""
        ...

    async def touch(self, api_key_id: uuid.UUID, now: datetime, used_before: datetime) -> bool:
        """Set ``last_used_at = now`` if it is unset or before ``used_before`` (a
        conditional UPDATE, so most uses write nothing); True when it was written."""
        ...
