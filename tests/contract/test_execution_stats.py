"""Contract: ExecutionStats counts committed executions per status on every backend."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.stats import MemoryExecutionStats
from adapters.memory.uow import MemoryStore, MemoryUnitOfWork
from adapters.sql.db import session_factory
from adapters.sql.stats import SqlExecutionStats
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.errors import StorageError
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import ExecutionStats, UnitOfWorkFactory
from tests.contract.conftest import BACKENDS
from tests.contract.factories import add_executions, seed_catalog

Pair = tuple[UnitOfWorkFactory, ExecutionStats]


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest) -> Pair:
    """A unit of work factory and the stats over the same storage."""
    if request.param == "memory":
        store = MemoryStore()
        return partial(MemoryUnitOfWork, store), MemoryExecutionStats(store)
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return partial(SqlUnitOfWork, session_factory(engine)), SqlExecutionStats(engine)


async def test_counts_committed_executions_per_status(pair: Pair) -> None:
    uow_factory, stats = pair
    assert await stats.count_by_status() == {}
    cat = await seed_catalog(uow_factory)
    wanted = [ExecutionStatus.PENDING] * 3 + [ExecutionStatus.COMPLETED] * 2
    await add_executions(uow_factory, *(cat.execution(status=s) for s in wanted))
    async with uow_factory() as uow:  # staged, never committed: not counted
        await uow.executions.add(cat.execution(status=ExecutionStatus.FAILED))
    assert await stats.count_by_status() == {
        ExecutionStatus.PENDING: 3,
        ExecutionStatus.COMPLETED: 2,
    }


async def test_a_memory_store_that_is_down_raises_storage_error() -> None:
    # The SQL side of this rule is in tests/e2e/test_metrics.py (an unreachable server).
    store = MemoryStore()
    store.down = True
    with pytest.raises(StorageError):
        await MemoryExecutionStats(store).count_by_status()
