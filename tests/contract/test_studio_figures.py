"""Contract: StudioFigures gives the same figures on every backend (SQL aggregates on
PostgreSQL and SQLite, the memory fake), test runs never counted."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.stats import MemoryStudioFigures
from adapters.memory.uow import MemoryStore, MemoryUnitOfWork
from adapters.sql.db import session_factory
from adapters.sql.stats import SqlStudioFigures
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.credits import Credits, Run, capture, grant, hold
from tarsify.domain.execution import Execution
from tarsify.domain.figures import Day, Percentiles, Window, percentile
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import StudioFigures, UnitOfWorkFactory
from tests.contract.conftest import BACKENDS
from tests.contract.factories import T0, Catalog, add_executions, published, seed_catalog

Pair = tuple[UnitOfWorkFactory, StudioFigures]
S = ExecutionStatus
DAY = timedelta(days=1)


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest) -> Pair:
    """A unit of work factory and the figures over the same storage."""
    if request.param == "memory":
        store = MemoryStore()
        return partial(MemoryUnitOfWork, store), MemoryStudioFigures(store)
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return partial(SqlUnitOfWork, session_factory(engine)), SqlStudioFigures(engine)


async def _earn(uow_factory: UnitOfWorkFactory, cat: Catalog, x: Execution, price: int) -> None:
    """The consumer pays ``price`` for ``x``: granted, held, captured (80 % earned)."""
    run = Run(x.id, x.tars_model_id)
    async with uow_factory() as uow:
        await uow.credits.post(grant(cat.consumer.id, price, "t", T0))
        credits = await uow.credits.lock(cat.consumer.id) or Credits(0, 0)
        await uow.credits.post(hold(cat.consumer.id, credits, price, run, T0))
        await uow.credits.post(capture(cat.consumer.id, cat.developer.id, price, 20, run, T0))
        await uow.commit()


async def test_figures_of_a_model_and_its_developer(pair: Pair) -> None:
    uow_factory, figures = pair
    cat = await seed_catalog(uow_factory)
    other = published(cat.developer.id, cat.base_model.id, T0, slug="other-model")
    async with uow_factory() as uow:
        await uow.tars_models.add(other)
        await uow.commit()
    yesterday, today = T0 - DAY, T0
    queue = [100, 200, 300, 1000]
    runs = [
        cat.execution(
            created_at=today, status=S.COMPLETED, queue_time_ms=queue[0], execution_time_ms=5000
        ),
        cat.execution(
            created_at=today, status=S.COMPLETED, queue_time_ms=queue[1], execution_time_ms=7000
        ),
        cat.execution(created_at=today, status=S.FAILED, queue_time_ms=queue[2]),
        cat.execution(created_at=yesterday, status=S.TIMED_OUT, queue_time_ms=queue[3]),
        cat.execution(created_at=yesterday, status=S.CANCELLED),
        cat.execution(created_at=today, status=S.RUNNING),
        # Too old for a window of two days.
        cat.execution(created_at=T0 - 3 * DAY, status=S.COMPLETED, queue_time_ms=9),
        # A test run: never counted.
        cat.execution(
            created_at=today,
            status=S.COMPLETED,
            consumer_id=None,
            queue_time_ms=99999,
            execution_time_ms=99999,
        ),
        # Another model of the developer.
        cat.execution(created_at=today, status=S.COMPLETED, tars_model_id=other.id),
    ]
    await add_executions(uow_factory, *runs)
    await _earn(uow_factory, cat, runs[0], 10)
    await _earn(uow_factory, cat, runs[1], 5)
    await _earn(uow_factory, cat, runs[8], 100)

    window = Window.ending(T0, 2)
    found = (await figures.model_figures(cat.tars_model.id, window.since)).over(window)
    assert (found.runs, found.completed, found.failed) == (6, 2, 1)
    assert (found.cancelled, found.timed_out) == (1, 1)
    assert found.success_rate == pytest.approx(2 / 5)
    assert found.queue_ms.p50 == pytest.approx(percentile(queue, 0.5))  # 250
    assert found.queue_ms.p90 == pytest.approx(percentile(queue, 0.9))  # 790
    assert found.run_ms == Percentiles(pytest.approx(6000), pytest.approx(6800))
    assert found.earnings == 8 + 4
    assert list(found.days) == [
        Day(yesterday.date(), 2, 0, 0, 0),
        Day(today.date(), 4, 2, 1, 12),
    ]

    overall = await figures.developer_figures(cat.developer.id, window.since)
    assert (overall.totals.runs, overall.totals.completed) == (7, 3)
    assert overall.totals.earnings == 12 + 80
    lines = {line.id: line for line in overall.models}
    assert set(lines) == {cat.tars_model.id, other.id}
    assert (lines[cat.tars_model.id].runs, lines[cat.tars_model.id].earnings) == (6, 12)
    assert lines[cat.tars_model.id].success_rate == pytest.approx(2 / 5)
    assert (lines[other.id].runs, lines[other.id].earnings) == (1, 80)


async def test_no_runs_no_figures(pair: Pair) -> None:
    uow_factory, figures = pair
    cat = await seed_catalog(uow_factory)
    window = Window.ending(T0, 3)
    found = (await figures.model_figures(cat.tars_model.id, window.since)).over(window)
    assert (found.runs, found.earnings, found.success_rate) == (0, 0, None)
    assert found.queue_ms == Percentiles(None, None) == found.run_ms
    assert [d.date for d in found.days] == [(T0 - n * DAY).date() for n in (2, 1, 0)]
    nobody = await figures.developer_figures(uuid.uuid4(), window.since)
    assert (nobody.totals.runs, nobody.models) == (0, [])


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20], 0.9) == pytest.approx(19)
