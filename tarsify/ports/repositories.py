"""Repositories: one per aggregate, read and written inside a ``UnitOfWork``.

They never commit, return copies, raise ``AlreadyExists`` on unique clashes and
``StorageError`` for any storage failure."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from tarsify.domain.api_keys import ApiKey, ApiKeyOwner
from tarsify.domain.credits import AccountType, Credits, LedgerEntry, Posting
from tarsify.domain.execution import Admission, Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.files import ExecutionFile
from tarsify.domain.ledger_audit import AccountTotal, ExecutionCharge, StoredBalances
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
    RunTarget,
    TarsModel,
)
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.webhooks import ExecutionWebhook, WebhookDelivery, WebhookEvent, WebhookSecret


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

    async def get_by_provider_id(self, provider_endpoint_id: str) -> GpuEndpoint | None:
        """By the provider's endpoint id."""
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


class WebhookRepository(Protocol):
    """Consumers' webhooks: what runs asked for, the events to deliver (an outbox), the
    attempts made, and each consumer's signing secret."""

    async def add_subscription(self, webhook: ExecutionWebhook) -> None:
        """Insert the webhook of a new execution."""
        ...

    async def get_subscription(self, execution_id: uuid.UUID) -> ExecutionWebhook | None:
        """The webhook the execution's run asked for, if any."""
        ...

    async def add_event(self, event: WebhookEvent) -> None:
        """Insert an event to deliver."""
        ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookEvent]:
        """Claim up to ``limit`` PENDING or RETRYING events whose next attempt is due,
        oldest first: each gets ``attempts + 1`` and ``next_attempt_at = lease_until``
        (so nobody else sends it before then). On PostgreSQL rows locked by another
        claimer are skipped (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def release(self, event: WebhookEvent, next_attempt_at: datetime) -> bool:
        """Give back a claimed attempt that was not made: ``attempts - 1`` and the next
        attempt at ``next_attempt_at``, only if ``attempts`` still equals the claim's
        (False otherwise: a later claim holds it)."""
        ...

    async def record(self, event: WebhookEvent, delivery: WebhookDelivery) -> None:
        """Insert the attempt; store the event's status, next attempt time and
        ``updated_at`` only if its ``attempts`` still equals this attempt's number (a
        later claim, after a lease ran out, decides the event's status instead).
        ``AlreadyExists`` when that attempt of the event is recorded already."""
        ...

    async def list_events(self, execution_id: uuid.UUID) -> list[WebhookEvent]:
        """The execution's events, oldest first."""
        ...

    async def list_deliveries(self, execution_id: uuid.UUID) -> list[WebhookDelivery]:
        """Every attempt made for the execution's events, oldest first."""
        ...

    async def get_secret(self, consumer_id: uuid.UUID) -> WebhookSecret | None:
        """The consumer's signing secret, if one was made."""
        ...

    async def add_secret(self, secret: WebhookSecret) -> None:
        """Insert; ``AlreadyExists`` when the consumer has one already."""
        ...

    async def replace_secret(self, consumer_id: uuid.UUID, secret: str, now: datetime) -> bool:
        """Replace the consumer's secret (``rotated_at = now``); False when there is none."""
        ...


class CreditsRepository(Protocol):
    """The ledger (append-only) and the balances kept beside the accounts.

    Balances change only through ``post``, in the transaction that writes the entries;
    the database refuses a negative balance (a CHECK constraint), an entry whose sign
    does not fit its type, a second entry of one type for one execution and a second
    settlement (CAPTURE or RELEASE) of one execution.
    """

    async def lock(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's credits, its row locked until the transaction ends (``SELECT
        ... FOR NO KEY UPDATE``): this serialises one consumer's runs. None if unknown."""
        ...

    async def post(self, posting: Posting) -> None:
        """Add the posting's entries and apply their balance changes; ``AlreadyExists``
        when an entry of the same execution and type (or a second settlement) exists."""
        ...

    async def credits(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's balance and held credits (no lock)."""
        ...

    async def earnings(self, developer_id: uuid.UUID) -> int | None:
        """The developer's earnings."""
        ...

    async def list_entries(
        self, account_type: AccountType, account_id: uuid.UUID, page: PageRequest
    ) -> Page[LedgerEntry]:
        """One account's entries, newest first (cursor over ``created_at, id``)."""
        ...

    async def audit_data(self) -> tuple[list[AccountTotal], StoredBalances, list[ExecutionCharge]]:
        """Everything the audit reads: entry sums per account and type, the stored
        balances, and the entry sums of every execution with a price or entries."""
        ...
