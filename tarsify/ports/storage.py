"""Storage: the unit of work over every repository, its factory, and the probes
operators read (readiness, execution counts), and the figures developers read.

Adapters implement them (``adapters/memory`` for tests, ``adapters/sql``); the
composition root (``entrypoints/container/``) picks which. Every adapter translates its
own failures into ``tarsify.domain.errors`` (``StorageError``, ...)."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from tarsify.domain.figures import DeveloperFigures, Figures
from tarsify.domain.models import (
    ExecutionStatus,
)
from tarsify.ports.credits import CreditsRepository
from tarsify.ports.repositories import (
    ApiKeyRepository,
    BaseModelRepository,
    ConsumerRepository,
    DeveloperRepository,
    EndpointRepository,
    ExecutionFileRepository,
    ExecutionRepository,
    TarsModelRepository,
)
from tarsify.ports.streams import StreamChunkRepository
from tarsify.ports.uploads import UploadRepository
from tarsify.ports.webhook_store import WebhookRepository


class UnitOfWork(Protocol):
    """One transaction over all repositories.

    ``async with uow:`` opens it; leaving the block without ``commit()`` rolls back.
    Repositories never commit.

    A whole change: a write of an execution given ``then`` (``ExecutionRepository.admit``,
    ``update``, ``try_mark_polled``) is everything the unit of work writes from then on:
    ``then`` are the writes that follow from it (``FollowUp``s: a ledger entry, an outbox
    event), run in order in its transaction once it succeeded, and the caller commits
    right after it returns (a later write in the unit of work raises ``RuntimeError``).
    Seeing the whole change, the adapter decides whether it needs a transaction: one
    with nothing to follow, in a unit of work that has no transaction open, may be made
    durable as it runs (on PostgreSQL: one statement, no BEGIN and COMMIT round trips,
    sent together with other units of work's). Without ``then`` a write is one of the
    unit of work's, committed with the others.
    """

    developers: DeveloperRepository
    consumers: ConsumerRepository
    endpoints: EndpointRepository
    base_models: BaseModelRepository
    tars_models: TarsModelRepository
    executions: ExecutionRepository
    files: ExecutionFileRepository
    api_keys: ApiKeyRepository
    webhooks: WebhookRepository
    credits: CreditsRepository
    uploads: UploadRepository
    chunks: StreamChunkRepository

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed and release the connection."""
        ...

    async def commit(self) -> None:
        """Make the changes durable."""
        ...

    async def rollback(self) -> None:
        """Discard the changes."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work for each use case call."""

    def __call__(self) -> UnitOfWork:
        """A new, not yet entered, unit of work."""
        ...


class HealthCheck(Protocol):
    """Readiness probe of the storage."""

    async def ping(self) -> None:
        """Return when the database answers; raise ``StorageError`` otherwise."""
        ...


class ExecutionStats(Protocol):
    """Aggregate figures for operators (read at scrape time by ``GET /metrics``)."""

    async def count_by_status(self) -> dict[ExecutionStatus, int]:
        """How many executions are in each status (absent: none); ``StorageError`` when
        the database does not answer."""
        ...


class StudioFigures(Protocol):
    """A developer's figures (``tarsify.domain.figures``), computed by the storage from
    consumers' runs and the ledger (never a developer's test run)."""

    async def model_figures(self, tars_model_id: uuid.UUID, since: datetime) -> Figures:
        """The model's runs created since ``since`` and its developer's earnings from
        them recorded since then; ``days`` holds only the UTC days with something."""
        ...

    async def developer_figures(self, developer_id: uuid.UUID, since: datetime) -> DeveloperFigures:
        """The same over all the developer's models, and a line per model (every model
        of the developer, newest created first)."""
        ...
