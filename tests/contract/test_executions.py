"""Contract: execution repository (storage, compare-and-set, poll claims)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta, timezone
from typing import Any

import pytest

from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import add_executions, at, consumer, seed_catalog

PAYLOADS: list[Any] = [
    {"images": [{"url": "https://x.test/a.png", "meta": {"seed": 42, "nsfw": False}}]},
    ["a", 1, 2.5, None, True, {"ü": "画像 🚀"}],
    "just text — ünïcödé",
    12345,
    {"big": ["x" * 1000 for _ in range(200)], "nested": {"a": {"b": {"c": [[], {}]}}}},
]


async def test_execution_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    full = cat.execution(
        status=ExecutionStatus.COMPLETED,
        provider_job_id="job-1",
        input_payload={"prompt": "a cat — 猫 🐱", "width": 512, "extra": {"list": [1, [2]]}},
        output_payload={"image": "data:image/png;base64," + "A" * 100_000},
        error_code=None,
        error_message=None,
        started_at=at(1),
        completed_at=at(2),
        execution_time_ms=1234,
        queue_time_ms=56,
        deadline_at=at(600),
        last_polled_at=at(2),
        submit_attempts=2,
        idempotency_key="key-1",
        request_hash="f" * 64,
        version=7,
    )
    empty = cat.execution(input_payload=None, status=ExecutionStatus.PENDING)
    async with uow_factory() as uow:
        await uow.executions.add(full)
        await uow.executions.add(empty)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.executions.get(full.id) == full
        assert await uow.executions.get(empty.id) == empty
        assert await uow.executions.get(uuid.uuid4()) is None
        view = await uow.executions.get_view(full.id)
        # What is shown carries no merged payload (hidden inputs); the rest is the row.
        assert view is not None and view.execution == dataclasses.replace(full, input_payload=None)
        assert (view.model_slug, view.model_title) == (cat.tars_model.slug, cat.tars_model.title)
        assert await uow.executions.get_view(uuid.uuid4()) is None
        assert await uow.executions.get_by_idempotency_key(cat.consumer.id, "key-1") == full
        assert await uow.executions.get_by_idempotency_key(cat.consumer.id, "other") is None
        assert await uow.executions.get_by_idempotency_key(uuid.uuid4(), "key-1") is None


@pytest.mark.parametrize("payload", PAYLOADS, ids=["object", "list", "str", "int", "big"])
async def test_output_payload_round_trips(uow_factory: UnitOfWorkFactory, payload: Any) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(output_payload=payload)
    await add_executions(uow_factory, execution)
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored is not None and stored.output_payload == payload


async def test_idempotency_key_is_unique_per_consumer(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    other = consumer()
    async with uow_factory() as uow:
        await uow.consumers.add(other)
        await uow.executions.add(cat.execution(idempotency_key="k"))
        # Same key for another consumer, and any number of executions without a key.
        await uow.executions.add(cat.execution(idempotency_key="k", consumer_id=other.id))
        await uow.executions.add(cat.execution())
        await uow.executions.add(cat.execution())
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.executions.add(cat.execution(idempotency_key="k"))


async def test_a_forgotten_idempotency_key_is_free_again(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first = cat.execution(idempotency_key="k")
    await add_executions(uow_factory, first)
    async with uow_factory() as uow:
        await uow.executions.forget_idempotency_key(first.id, "another key")  # not its key
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.executions.get_by_idempotency_key(cat.consumer.id, "k") == first
        await uow.executions.forget_idempotency_key(first.id, "k")
        await uow.commit()
    second = cat.execution(idempotency_key="k")
    await add_executions(uow_factory, second)  # the key is free: no AlreadyExists
    async with uow_factory() as uow:
        assert await uow.executions.get_by_idempotency_key(cat.consumer.id, "k") == second
        kept = await uow.executions.get(first.id)
    # Nothing else of the first execution changed, not even its version.
    assert kept == dataclasses.replace(first, idempotency_key=None)


async def test_provider_job_id_and_id_are_unique(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first = cat.execution(provider_job_id="job-x")
    await add_executions(uow_factory, first)
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.executions.add(cat.execution(provider_job_id="job-x"))
        with pytest.raises(AlreadyExists):
            await uow.executions.add(cat.execution(id=first.id))


async def test_the_holder_of_a_provider_job(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first, unsent = cat.execution(provider_job_id="job-h"), cat.execution()
    await add_executions(uow_factory, first, unsent)
    async with uow_factory() as uow:
        assert await uow.executions.holder_of_job("job-h") == first.id
        assert await uow.executions.holder_of_job("job-H") is None
        assert await uow.executions.holder_of_job("") is None


async def test_execution_needs_existing_references(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    for field in ("consumer_id", "tars_model_id", "endpoint_id"):
        async with uow_factory() as uow:
            with pytest.raises(StorageError):
                await uow.executions.add(cat.execution(**{field: uuid.uuid4()}))


async def test_update_is_compare_and_set(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(status=ExecutionStatus.QUEUED, provider_job_id="j")
    await add_executions(uow_factory, execution)
    async with uow_factory() as uow:
        stale = await uow.executions.get(execution.id)
        fresh = await uow.executions.get(execution.id)
    assert stale is not None and fresh is not None
    async with uow_factory() as uow:
        fresh.status, fresh.completed_at, fresh.output_payload = (
            ExecutionStatus.COMPLETED,
            at(5),
            {"ok": True},
        )
        assert await uow.executions.update(fresh) is True
        assert fresh.version == 2
        await uow.commit()
    async with uow_factory() as uow:
        stale.status, stale.error_message = ExecutionStatus.RUNNING, "should never land"
        assert await uow.executions.update(stale) is False
        assert stale.version == 1
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
        ghost = cat.execution()
        assert await uow.executions.update(ghost) is False
        assert await uow.executions.get(ghost.id) is None
    assert stored == fresh
    assert stored.status == ExecutionStatus.COMPLETED and stored.version == 2


async def test_an_update_keeps_what_was_set_at_creation(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    original = cat.execution(input_payload={"prompt": "x"}, consumer_input={"prompt": "y"})
    original.idempotency_key, original.request_hash, original.price = "k", "h" * 64, 5
    await add_executions(uow_factory, original)
    async with uow_factory() as uow:
        view = await uow.executions.get_view(original.id)
        assert view is not None and view.execution.input_payload is None
        shown = view.execution  # a view, changed and stored: nothing set at creation is lost
        shown.status, shown.consumer_input, shown.price = ExecutionStatus.RUNNING, None, 0
        shown.idempotency_key = shown.request_hash = None
        assert await uow.executions.update(shown)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(original.id)
    assert stored is not None and stored.status is ExecutionStatus.RUNNING
    assert (stored.input_payload, stored.consumer_input) == ({"prompt": "x"}, {"prompt": "y"})
    assert (stored.idempotency_key, stored.request_hash, stored.price) == ("k", "h" * 64, 5)


async def test_update_stores_every_field(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    await add_executions(uow_factory, execution)
    paris = timezone(timedelta(hours=2))
    async with uow_factory() as uow:
        execution.status, execution.provider_job_id = ExecutionStatus.FAILED, "job-9"
        execution.error_code, execution.error_message = "ERR_5510", "GPU worker crashed"
        execution.started_at, execution.completed_at = at(3).astimezone(paris), at(4)
        execution.execution_time_ms, execution.queue_time_ms = 1000, 2000
        execution.deadline_at, execution.last_polled_at = at(9), at(4)
        execution.submit_attempts, execution.updated_at = 3, at(4)
        execution.output_payload = None
        assert await uow.executions.update(execution)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored == execution and stored is not None
    assert stored.started_at is not None and stored.started_at.utcoffset() == timedelta(0)
