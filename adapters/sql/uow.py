"""Unit of work over one ``AsyncSession``, and the readiness probe."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sql.accounts import SqlConsumerRepository, SqlDeveloperRepository
from adapters.sql.catalog import SqlBaseModelRepository, SqlEndpointRepository
from adapters.sql.errors import FOREIGN_ERRORS, guarded, translate
from adapters.sql.executions import SqlExecutionRepository
from adapters.sql.studio import SqlTarsModelRepository
from tarsify.ports import (
    BaseModelRepository,
    ConsumerRepository,
    DeveloperRepository,
    EndpointRepository,
    ExecutionRepository,
    TarsModelRepository,
)


class SqlUnitOfWork:
    """One database transaction shared by every repository; not committed = rolled back."""

    developers: DeveloperRepository
    consumers: ConsumerRepository
    endpoints: EndpointRepository
    base_models: BaseModelRepository
    tars_models: TarsModelRepository
    executions: ExecutionRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session (only inside ``async with``)."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        """Open a session; the connection is taken on first use."""
        session = self._session_factory()
        self._session = session
        self.developers = SqlDeveloperRepository(session)
        self.consumers = SqlConsumerRepository(session)
        self.endpoints = SqlEndpointRepository(session)
        self.base_models = SqlBaseModelRepository(session)
        self.tars_models = SqlTarsModelRepository(session)
        self.executions = SqlExecutionRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and give the connection back."""
        session, self._session = self.session, None
        try:
            await session.close()  # rolls back an open transaction
        except FOREIGN_ERRORS as cleanup_exc:
            error = translate(cleanup_exc, "unit_of_work.exit")
            # The block's own exception is the one the caller must see; ours is logged.
            if exc is None:
                raise error from cleanup_exc

    @guarded("unit_of_work.commit")
    async def commit(self) -> None:
        """Make the changes durable."""
        await self.session.commit()

    @guarded("unit_of_work.rollback")
    async def rollback(self) -> None:
        """Discard the changes."""
        await self.session.rollback()


class SqlHealthCheck:
    """Readiness probe: the database answers ``SELECT 1``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @guarded("health.ping")
    async def ping(self) -> None:
        """Return when the database answers; ``StorageError`` otherwise."""
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
