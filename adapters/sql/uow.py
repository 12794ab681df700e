"""Unit of work over one database connection (a Core ``AsyncConnection``), and the
readiness probe."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.accounts import SqlConsumerRepository, SqlDeveloperRepository
from adapters.sql.api_keys import SqlApiKeyRepository
from adapters.sql.catalog import SqlBaseModelRepository, SqlEndpointRepository
from adapters.sql.credits import SqlCreditsRepository
from adapters.sql.db import ConnectionSource, Db
from adapters.sql.errors import FOREIGN_ERRORS, guarded, translate
from adapters.sql.executions import SqlExecutionRepository
from adapters.sql.files import SqlExecutionFileRepository
from adapters.sql.streams import SqlStreamChunkRepository
from adapters.sql.studio import SqlTarsModelRepository
from adapters.sql.uploads import SqlUploadRepository
from adapters.sql.webhooks import SqlWebhookRepository
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

# Each repository is made when the unit of work first uses it (most use one or two).
_REPOSITORIES: dict[str, type] = {
    "developers": SqlDeveloperRepository,
    "consumers": SqlConsumerRepository,
    "endpoints": SqlEndpointRepository,
    "base_models": SqlBaseModelRepository,
    "tars_models": SqlTarsModelRepository,
    "executions": SqlExecutionRepository,
    "files": SqlExecutionFileRepository,
    "api_keys": SqlApiKeyRepository,
    "webhooks": SqlWebhookRepository,
    "credits": SqlCreditsRepository,
    "uploads": SqlUploadRepository,
    "chunks": SqlStreamChunkRepository,
}


class SqlUnitOfWork:
    """One database transaction shared by every repository; not committed = rolled back."""

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

    def __init__(self, connections: ConnectionSource) -> None:
        self._connections = connections
        self._db: Db | None = None
        self._made: list[str] = []

    @property
    def db(self) -> Db:
        """The open unit of work's database handle (only inside ``async with``)."""
        if self._db is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._db

    async def __aenter__(self) -> Self:
        """Start the unit of work; the connection is taken on first use."""
        for name in self._made:  # an earlier use's repositories
            del self.__dict__[name]
        self._made = []
        self._db = self._connections()
        return self

    def __getattr__(self, name: str) -> Any:
        """A repository, made on first use (only inside ``async with``)."""
        factory = _REPOSITORIES.get(name)
        if factory is None:
            raise AttributeError(name)
        repository = factory(self.db)
        self.__dict__[name] = repository
        self._made.append(name)
        return repository

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and give the connection back."""
        db, self._db = self.db, None
        try:
            await db.close()  # rolls back an open transaction
        except FOREIGN_ERRORS as cleanup_exc:
            error = translate(cleanup_exc, "unit_of_work.exit")
            # The block's own exception is the one the caller must see; ours is logged.
            if exc is None:
                raise error from cleanup_exc

    @guarded("unit_of_work.commit")
    async def commit(self) -> None:
        """Make the changes durable."""
        await self.db.commit()

    @guarded("unit_of_work.rollback")
    async def rollback(self) -> None:
        """Discard the changes."""
        await self.db.rollback()


class SqlHealthCheck:
    """Readiness probe: the database answers ``SELECT 1``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @guarded("health.ping")
    async def ping(self) -> None:
        """Return when the database answers; ``StorageError`` otherwise."""
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
