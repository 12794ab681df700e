"""In-memory store and unit of work with the transaction semantics of the SQL adapter.

Each unit of work stages its writes; other units of work see them only after commit
(read committed). Updates take row locks like PostgreSQL: a second writer of the same
row waits until the first commits or rolls back, and ``claim_due`` skips locked rows.
"""

from __future__ import annotations

import asyncio
import uuid
from types import TracebackType
from typing import Any, Self

from adapters.memory.api_keys import MemoryApiKeyRepository
from adapters.memory.credits import MemoryCreditsRepository
from adapters.memory.executions import MemoryExecutionRepository
from adapters.memory.files import MemoryExecutionFileRepository
from adapters.memory.repositories import (
    MemoryBaseModelRepository,
    MemoryConsumerRepository,
    MemoryDeveloperRepository,
    MemoryEndpointRepository,
    MemoryTarsModelRepository,
)
from adapters.memory.streams import MemoryStreamChunkRepository
from adapters.memory.transaction import UNIQUE, MemoryTransaction, RowKey
from adapters.memory.uploads import MemoryUploadRepository
from adapters.memory.webhooks import MemoryWebhookRepository
from tarsify.domain.errors import StorageError
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


class MemoryStore:
    """Committed data shared by every ``MemoryUnitOfWork``, plus fault switches.

    Set ``down`` to make every repository call and commit raise ``StorageError`` (and
    ``MemoryHealthCheck.ping``); set ``fail_commits`` to make only commits fail.
    """

    def __init__(self, *, lock_timeout: float = 5.0) -> None:
        self.tables: dict[str, dict[uuid.UUID, Any]] = {name: {} for name in UNIQUE}
        self.locks: dict[RowKey, object] = {}
        self.lock_timeout = lock_timeout
        self.down = False
        self.fail_commits = False
        self.commits = 0
        self._waiters: list[asyncio.Future[None]] = []

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A new unit of work on this store (usable as a ``UnitOfWorkFactory``)."""
        return MemoryUnitOfWork(self)

    async def wait_for_release(self, key: RowKey, owner: object) -> None:
        """Take the row lock, waiting while another unit of work holds it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        while self.locks.get(key, owner) is not owner:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(deadline - loop.time(), 0))
            except TimeoutError as exc:
                # PostgreSQL would wait forever; a fake must not hang a test run.
                raise StorageError("Lock wait timeout") from exc
        self.locks[key] = owner

    def release(self, key: RowKey, owner: object) -> None:
        """Drop one row lock of ``owner`` and wake the waiting writers."""
        if self.locks.get(key) is owner:
            del self.locks[key]
            self._wake()

    def release_all(self, owner: object) -> None:
        """Drop every row lock of ``owner`` and wake the waiting writers."""
        for key in [k for k, v in self.locks.items() if v is owner]:
            del self.locks[key]
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class MemoryUnitOfWork:
    """A unit of work over a ``MemoryStore``; use a new one per use case."""

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

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._tx: MemoryTransaction | None = None

    async def __aenter__(self) -> Self:
        """Begin a transaction (like the SQL adapter, no storage access yet)."""
        tx = MemoryTransaction(self.store)
        self._tx = tx
        self.developers = MemoryDeveloperRepository(tx)
        self.consumers = MemoryConsumerRepository(tx)
        self.endpoints = MemoryEndpointRepository(tx)
        self.base_models = MemoryBaseModelRepository(tx)
        self.tars_models = MemoryTarsModelRepository(tx)
        self.executions = MemoryExecutionRepository(tx)
        self.files = MemoryExecutionFileRepository(tx)
        self.api_keys = MemoryApiKeyRepository(tx)
        self.webhooks = MemoryWebhookRepository(tx)
        self.credits = MemoryCreditsRepository(tx)
        self.uploads = MemoryUploadRepository(tx)
        self.chunks = MemoryStreamChunkRepository(tx)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Discard whatever was not committed."""
        if self._tx is not None:
            self._tx.discard()
            self._tx = None

    async def commit(self) -> None:
        """Publish the staged writes to the store."""
        self._transaction().commit()

    async def rollback(self) -> None:
        """Discard the staged writes."""
        self._transaction().discard()

    def _transaction(self) -> MemoryTransaction:
        if self._tx is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._tx


class MemoryHealthCheck:
    """Readiness probe of a ``MemoryStore``; set ``down`` (here or on the store) to fail."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store
        self.down = False

    async def ping(self) -> None:
        """Raise ``StorageError`` while switched down."""
        if self.down or (self.store is not None and self.store.down):
            raise StorageError()
