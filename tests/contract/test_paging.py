"""Contract: consumer history, its filters and keyset pagination."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.execution_summary import NOT_LISTED, ExecutionSummary
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Cursor, PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import Catalog, add_executions, at, consumer, seed_catalog, tars_model


async def _read_all(
    uow_factory: UnitOfWorkFactory, cat: Catalog, limit: int, between: list[Execution]
) -> list[uuid.UUID]:
    """Page through the history, inserting ``between`` after the first page."""
    seen: list[uuid.UUID] = []
    cursor: Cursor | None = None
    for number in range(100):
        async with uow_factory() as uow:
            page = await uow.executions.list_for_consumer(
                cat.consumer.id, PageRequest(limit=limit, after=cursor)
            )
        assert len(page.items) <= limit
        seen += [listed.id for listed in page.items]
        if number == 0:
            await add_executions(uow_factory, *between)
        if page.next_cursor is None:
            return seen
        cursor = Cursor.decode(page.next_cursor)
    raise AssertionError("pagination does not end")


async def test_history_pages_never_skip_or_repeat(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    # Groups of three share a created_at: only the id breaks the tie.
    original = [cat.execution(created_at=at(i // 3)) for i in range(23)]
    await add_executions(uow_factory, *original)
    newer = [cat.execution(created_at=at(1000 + i)) for i in range(3)]
    older = [cat.execution(created_at=at(-5))]
    seen = await _read_all(uow_factory, cat, 5, newer + older)
    expected = sorted(original + older, key=lambda x: (x.created_at, x.id), reverse=True)
    assert seen == [x.id for x in expected]
    assert len(set(seen)) == len(seen)


async def test_history_exact_multiple_of_limit(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    rows = [cat.execution(created_at=at(i)) for i in range(6)]
    await add_executions(uow_factory, *rows)
    async with uow_factory() as uow:
        first = await uow.executions.list_for_consumer(cat.consumer.id, PageRequest(limit=3))
        assert first.next_cursor is not None
        second = await uow.executions.list_for_consumer(
            cat.consumer.id, PageRequest(limit=3, after=Cursor.decode(first.next_cursor))
        )
    assert [v.id for v in first.items] == [r.id for r in reversed(rows[3:])]
    assert [v.id for v in second.items] == [r.id for r in reversed(rows[:3])]
    assert second.next_cursor is None
    # The same position written in another zone (clients may send any offset).
    cursor = Cursor.decode(first.next_cursor)
    shifted = Cursor(cursor.at.astimezone(timezone(timedelta(hours=-5))), cursor.id)
    async with uow_factory() as uow:
        again = await uow.executions.list_for_consumer(
            cat.consumer.id, PageRequest(limit=3, after=shifted)
        )
    assert again.items == second.items


async def test_history_filters_and_model_fields(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    other_model = tars_model(cat.developer.id, cat.base_model.id, title="Other")
    stranger = consumer()
    async with uow_factory() as uow:
        await uow.tars_models.add(other_model)
        await uow.consumers.add(stranger)
        await uow.commit()
    done = cat.execution(status=ExecutionStatus.COMPLETED, created_at=at(1))
    running = cat.execution(status=ExecutionStatus.RUNNING, created_at=at(2))
    other = cat.execution(
        status=ExecutionStatus.COMPLETED,
        tars_model_id=other_model.id,
        created_at=at(3),
        provider_job_id="job-3",
        provider_endpoint_id="rp-3",
        deadline_at=at(600),
        last_polled_at=at(4),
        idempotency_key="key-3",
        request_hash="h" * 64,
        error_message="kept",
        execution_time_ms=1200,
    )
    foreign = cat.execution(consumer_id=stranger.id, created_at=at(4))
    await add_executions(uow_factory, done, running, other, foreign)
    async with uow_factory() as uow:
        history = cat.consumer.id
        everything = await uow.executions.list_for_consumer(history, PageRequest())
        completed = await uow.executions.list_for_consumer(
            history, PageRequest(), status=ExecutionStatus.COMPLETED
        )
        of_model = await uow.executions.list_for_consumer(
            history, PageRequest(), tars_model_id=cat.tars_model.id
        )
        both = await uow.executions.list_for_consumer(
            history,
            PageRequest(),
            status=ExecutionStatus.COMPLETED,
            tars_model_id=other_model.id,
        )
        none = await uow.executions.list_for_consumer(
            history, PageRequest(), status=ExecutionStatus.CANCELLED
        )
    assert [v.id for v in everything.items] == [other.id, running.id, done.id]
    # A list carries what is shown: none of NOT_LISTED (the merged payload, job ids,
    # the engine's bookkeeping); the rest is the row.
    shown = ExecutionSummary.of(ExecutionView(other, other_model.slug, "Other"))
    assert everything.items[0] == shown
    assert not [name for name in NOT_LISTED if hasattr(everything.items[0], name)]
    assert shown.error_message == "kept" and shown.execution_time_ms == 1200
    assert (everything.items[0].model_slug, everything.items[0].model_title) == (
        other_model.slug,
        "Other",
    )
    assert everything.items[1].model_slug == cat.tars_model.slug
    assert [v.id for v in completed.items] == [other.id, done.id]
    assert [v.id for v in of_model.items] == [running.id, done.id]
    assert [v.id for v in both.items] == [other.id]
    assert none.items == [] and none.next_cursor is None
