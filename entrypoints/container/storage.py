"""Storage wiring: the SQL engine or the in-memory store, units of work, the execution
feed of event streams, and the metrics that count storage failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.feed import InProcessFeed
from adapters.memory.uow import MemoryStore, MemoryUnitOfWork
from adapters.metrics.registry import Metrics
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.errors import on_storage_failure
from adapters.sql.feed import PostgresFeed
from adapters.sql.uow import SqlUnitOfWork
from entrypoints.config import Settings
from tarsify.ports.storage import UnitOfWorkFactory

log = logging.getLogger("tarsify.container")


def open_metrics() -> Iterator[Metrics]:
    """The process's metrics; database failures are counted while it is open."""
    metrics = Metrics()
    stop_counting = on_storage_failure(metrics.count_storage_error)
    try:
        yield metrics
    finally:
        stop_counting()


async def open_db_engine(settings: Settings) -> AsyncIterator[AsyncEngine | None]:
    """The process's SQL engine, disposed on shutdown; None for a ``memory://`` URL."""
    if settings.database.storage_backend == "memory":
        yield None
        return
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        pooled=settings.database.pooled,
    )
    try:
        yield engine
    finally:
        await engine.dispose()


def sql_uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    """A factory of SQL units of work sharing the engine's session factory."""
    return partial(SqlUnitOfWork, session_factory(engine))


def memory_uow_factory(store: MemoryStore) -> UnitOfWorkFactory:
    """A factory of in-memory units of work over one store."""
    return partial(MemoryUnitOfWork, store)


def make_execution_feed(settings: Settings) -> InProcessFeed | PostgresFeed:
    """How event streams hear of changes: LISTEN/NOTIFY on PostgreSQL; on SQLite (other
    processes cannot announce here) in-process announcements and polling; with
    ``memory://`` (one process) in-process announcements alone."""
    if settings.database.storage_backend == "memory":
        return InProcessFeed()
    if settings.database.url.startswith(("postgres", "postgresql")):
        # LISTEN needs a session: through a transaction pooler, a direct connection.
        listen_url = settings.database.direct_url if settings.database.pooled else None
        if settings.database.pooled and listen_url is None:
            log.warning(
                "feed.polling",
                extra={
                    "hint": "DATABASE_POOLER=transaction without DATABASE_DIRECT_URL: event "
                    "streams poll the database instead of listening"
                },
            )
            return InProcessFeed(poll_s=settings.events.poll_interval)
        return PostgresFeed(
            listen_url or settings.database.url, fallback_poll_s=settings.events.poll_interval
        )
    return InProcessFeed(poll_s=settings.events.poll_interval)


async def run_execution_feed(feed: InProcessFeed | PostgresFeed) -> AsyncIterator[None]:
    """Listen (PostgreSQL) while the container's resources are open."""
    if isinstance(feed, PostgresFeed):
        feed.start()
        try:
            yield None
        finally:
            await feed.close()
        return
    yield None
