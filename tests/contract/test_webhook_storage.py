"""Contract: the webhook repository on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tarsify.domain.errors import AlreadyExists
from tarsify.domain.webhooks import (
    DeliveryStatus,
    ExecutionWebhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookSecret,
    new_webhook_id,
)
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import Catalog, at, seed_catalog


def event(cat: Catalog, execution_id: uuid.UUID, due: float = 0, **kw: object) -> WebhookEvent:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        execution_id=execution_id,
        consumer_id=cat.consumer.id,
        webhook_id=new_webhook_id(),
        event_type=WebhookEventType.COMPLETED,
        url="https://hooks.example/x",
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=at(due),
        created_at=at(0),
        updated_at=at(0),
    )
    return WebhookEvent(**(fields | kw))  # type: ignore[arg-type]


def attempt(e: WebhookEvent, status: DeliveryStatus, when: float) -> WebhookDelivery:
    return WebhookDelivery(
        uuid.uuid4(), e.id, e.execution_id, e.attempts, status, 500, "HTTP 500", 12, at(when), None
    )


async def stored_execution(uow_factory: UnitOfWorkFactory) -> tuple[Catalog, uuid.UUID]:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    async with uow_factory() as uow:
        await uow.executions.add(execution)
        hook = ExecutionWebhook(
            execution.id, cat.consumer.id, "https://hooks.example/x", ["completed", "start"], at(0)
        )
        await uow.webhooks.add_subscription(hook)
        await uow.commit()
    return cat, execution.id


async def test_subscription_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    _, execution_id = await stored_execution(uow_factory)
    async with uow_factory() as uow:
        hook = await uow.webhooks.get_subscription(execution_id)
        assert hook is not None and hook.events == ["completed", "start"]
        assert await uow.webhooks.get_subscription(uuid.uuid4()) is None


async def test_claims_take_due_events_once_until_their_lease_ends(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat, execution_id = await stored_execution(uow_factory)
    due, later = event(cat, execution_id, due=0), event(cat, execution_id, due=100)
    async with uow_factory() as uow:
        await uow.webhooks.add_event(due)
        await uow.webhooks.add_event(later)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.webhooks.claim_due(at(10), at(70), 10)
        await uow.commit()
    assert [(e.id, e.attempts, e.next_attempt_at) for e in claimed] == [(due.id, 1, at(70))]
    async with uow_factory() as uow:
        assert await uow.webhooks.claim_due(at(60), at(120), 10) == []  # leased
        again = await uow.webhooks.claim_due(at(101), at(200), 10)
        await uow.commit()
    assert sorted(e.attempts for e in again) == [1, 2]


async def test_record_writes_the_attempt_and_the_events_new_state(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat, execution_id = await stored_execution(uow_factory)
    async with uow_factory() as uow:
        await uow.webhooks.add_event(event(cat, execution_id))
        await uow.commit()
    async with uow_factory() as uow:
        [claimed] = await uow.webhooks.claim_due(at(1), at(61), 5)
        await uow.commit()
    claimed.status, claimed.next_attempt_at = DeliveryStatus.RETRYING, at(30)
    first = attempt(claimed, DeliveryStatus.RETRYING, 2)
    async with uow_factory() as uow:
        await uow.webhooks.record(claimed, first)
        await uow.commit()
    with pytest.raises(AlreadyExists):  # one attempt is recorded once
        async with uow_factory() as uow:
            await uow.webhooks.record(claimed, attempt(claimed, DeliveryStatus.RETRYING, 3))
            await uow.commit()
    async with uow_factory() as uow:
        [stored] = await uow.webhooks.list_events(execution_id)
        log = await uow.webhooks.list_deliveries(execution_id)
    assert (stored.status, stored.next_attempt_at, stored.attempts) == (
        DeliveryStatus.RETRYING,
        at(30),
        1,
    )
    assert [(d.attempt, d.status, d.response_status, d.error) for d in log] == [
        (1, DeliveryStatus.RETRYING, 500, "HTTP 500")
    ]


async def test_a_stale_attempt_does_not_overwrite_a_later_claim(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat, execution_id = await stored_execution(uow_factory)
    async with uow_factory() as uow:
        await uow.webhooks.add_event(event(cat, execution_id))
        await uow.commit()
    async with uow_factory() as uow:
        [slow] = await uow.webhooks.claim_due(at(1), at(2), 5)
        await uow.commit()
    async with uow_factory() as uow:  # the lease ran out: attempt 2 is claimed and delivered
        [fast] = await uow.webhooks.claim_due(at(3), at(60), 5)
        fast.status, fast.next_attempt_at = DeliveryStatus.DELIVERED, None
        await uow.webhooks.record(fast, attempt(fast, DeliveryStatus.DELIVERED, 4))
        await uow.commit()
    slow.status, slow.next_attempt_at = DeliveryStatus.RETRYING, at(10)
    async with uow_factory() as uow:
        await uow.webhooks.record(slow, attempt(slow, DeliveryStatus.RETRYING, 5))
        await uow.commit()
    async with uow_factory() as uow:
        [stored] = await uow.webhooks.list_events(execution_id)
        log = await uow.webhooks.list_deliveries(execution_id)
    assert stored.status is DeliveryStatus.DELIVERED and stored.attempts == 2
    assert [d.attempt for d in log] == [2, 1]  # both kept, by time


async def test_one_secret_per_consumer(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    async with uow_factory() as uow:
        assert await uow.webhooks.get_secret(cat.consumer.id) is None
        assert not await uow.webhooks.replace_secret(cat.consumer.id, "bmV3", at(1))
        await uow.webhooks.add_secret(WebhookSecret(uuid.uuid4(), cat.consumer.id, "b2xk", at(0)))
        await uow.commit()
    with pytest.raises(AlreadyExists):
        async with uow_factory() as uow:
            await uow.webhooks.add_secret(
                WebhookSecret(uuid.uuid4(), cat.consumer.id, "b3RoZXI=", at(0))
            )
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.replace_secret(cat.consumer.id, "bmV3", at(1))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.webhooks.get_secret(cat.consumer.id)
    assert found is not None and (found.secret, found.rotated_at) == ("bmV3", at(1))


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_claimers_never_take_the_same_event(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat, execution_id = await stored_execution(uow_factory)
    async with uow_factory() as uow:
        for n in range(40):
            await uow.webhooks.add_event(event(cat, execution_id, due=n / 100))
        await uow.commit()
    taken: list[uuid.UUID] = []

    async def claimer() -> None:
        while True:
            async with uow_factory() as uow:
                claimed = await uow.webhooks.claim_due(at(10), at(1000), 3)
                await asyncio.sleep(0.01)  # hold the row locks a moment
                await uow.commit()
            if not claimed:
                return
            taken.extend(e.id for e in claimed)

    await asyncio.gather(*(claimer() for _ in range(4)))
    assert len(taken) == 40 and len(set(taken)) == 40


async def test_a_released_claim_is_due_again_later_with_its_attempt_not_counted(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat, execution_id = await stored_execution(uow_factory)
    due = event(cat, execution_id, due=0)
    async with uow_factory() as uow:
        await uow.webhooks.add_event(due)
        await uow.commit()
    async with uow_factory() as uow:
        [claimed] = await uow.webhooks.claim_due(at(10), at(70), 10)
        assert await uow.webhooks.release(claimed, at(20))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.claim_due(at(19), at(80), 10) == []
        [again] = await uow.webhooks.claim_due(at(20), at(80), 10)
        await uow.commit()
    assert (again.id, again.attempts, again.next_attempt_at) == (due.id, 1, at(80))
    async with uow_factory() as uow:  # its lease ran out: another claim took it
        [third] = await uow.webhooks.claim_due(at(81), at(140), 10)
        # The late release of the earlier claim changes nothing.
        assert not await uow.webhooks.release(again, at(90))
        await uow.commit()
    [stored] = await _events(uow_factory, execution_id)
    assert (
        (stored.attempts, stored.next_attempt_at)
        == (2, at(140))
        == (
            third.attempts,
            third.next_attempt_at,
        )
    )


async def _events(uow_factory: UnitOfWorkFactory, execution_id: uuid.UUID) -> list[Any]:
    async with uow_factory() as uow:
        return await uow.webhooks.list_events(execution_id)
