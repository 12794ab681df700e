"""Storage: the unit of work over every repository, its factory, and the probes
operators read (readiness, execution counts).

Adapters implement them (``adapters/memory`` for tests, ``adapters/sql``); the
composition root (``entrypoints/container/``) picks which. Every adapter translates its
own failures into ``tarsify.domain.errors`` (``StorageError``, ...)."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from tarsify.domain.models import (
    ExecutionStatus,
)
from tarsify.ports.repositories import (
    ApiKeyRepository,
    BaseModelRepository,
    ConsumerRepository,
    CreditsRepository,
    DeveloperRepository,
    EndpointRepository,
    ExecutionFileRepository,
    ExecutionRepository,
    TarsModelRepository,
    WebhookRepository,
)


class UnitOfWork(Protocol):
    """One transaction over all repositories.

    ``async with uow:`` opens it; leaving the block without ``commit()`` rolls back.
    Repositories never commit.
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

    def __call__(self, *, single_write: bool = False) -> UnitOfWork:
        """A new, not yet entered, unit of work.

        ``single_write``: the unit of work makes at most one write (an INSERT or UPDATE
        of one statement) and its caller commits right after it. The adapter may then
        make that write durable as it runs, without a transaction around it (on
        PostgreSQL this saves the BEGIN and COMMIT round trips); a second write raises
        ``RuntimeError``, as a programming error.
        """
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
