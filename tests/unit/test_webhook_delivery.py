"""Webhooks on fakes: events written with their changes, signed attempts, retries, log."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from adapters.memory.clock import ManualClock
from tarsify.domain.execution import ExecutionView
from tarsify.domain.run_request import RunRequest
from tarsify.domain.webhook_rules import refused
from tarsify.domain.webhooks import DeliveryStatus, WebhookFilter, WebhookRequest
from tarsify.ports.webhooks import SendResult
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.webhook_listener import WebhookListener
from tarsify.services.webhook_delivery import DeliverySettings, WebhookDeliverer
from tarsify.services.webhooks import ConsumerWebhooks
from tests.unit.world import World, make_world

HOOK = "https://hooks.example/tarsify"
IMAGE = {"images": ["data:image/png;base64,AAAA"]}


@dataclass
class Receiver:
    """A fake sender: answers with the scripted statuses, records every request."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.received.append((url, headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        return SendResult(status, None if status < 300 else f"HTTP {status}", 3)


class AnyDestination:
    async def check(self, url: str) -> None:
        if "internal" in url:
            raise refused("internal")


async def render(view: ExecutionView) -> bytes:
    return json.dumps({"id": str(view.execution.id), "status": view.execution.status}).encode()


@dataclass
class Hooks:
    world: World
    clock: ManualClock
    receiver: Receiver
    deliverer: WebhookDeliverer
    webhooks: ConsumerWebhooks


async def hooks(delays: tuple[float, ...] = (5, 30, 120)) -> Hooks:
    clock = ManualClock(datetime.now(UTC))  # signatures are checked against real time
    world = await make_world(clock, listeners=Listeners([WebhookListener(clock)]))
    receiver = Receiver()
    uow = world.store.unit_of_work
    deliverer = WebhookDeliverer(
        uow, clock, receiver, render, DeliverySettings(retry_delays_s=delays, lease_s=60)
    )
    return Hooks(world, clock, receiver, deliverer, ConsumerWebhooks(uow, clock, AnyDestination()))


async def run(h: Hooks, *events: WebhookFilter) -> uuid.UUID:
    request = await h.webhooks.request(HOOK, list(events) or None)
    result = await h.world.executions.run(
        RunRequest(h.world.alice.id, h.world.model.slug, {"prompt": "x"}, webhook=request)
    )
    return result.view.execution.id


async def finish(h: Hooks, execution_id: uuid.UUID, status: str = "COMPLETED") -> None:
    stored = await h.world.stored(execution_id)
    h.world.gpu.set_status(stored.provider_job_id, status, output=IMAGE)
    h.clock.advance(2)  # past the poll interval
    await h.world.executions.get(h.world.alice.id, execution_id)


async def test_completed_only_by_default_and_each_event_signed() -> None:
    h = await hooks()
    execution_id = await run(h)
    stored = await h.world.stored(execution_id)
    h.world.gpu.set_status(stored.provider_job_id, "IN_PROGRESS")
    await h.world.executions.get(h.world.alice.id, execution_id)  # RUNNING: not asked for
    await finish(h, execution_id)
    assert await h.deliverer.run_once() == 1
    [(url, headers, body)] = h.receiver.received
    assert url == HOOK
    secret = await h.webhooks.secret(h.world.alice.id)
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "execution.completed"
    assert payload["data"] == {"id": str(execution_id), "status": "COMPLETED"}
    assert await h.deliverer.run_once() == 0  # delivered: nothing left


async def test_start_and_completed_when_both_are_asked_for() -> None:
    h = await hooks()
    execution_id = await run(h, WebhookFilter.START, WebhookFilter.COMPLETED)
    stored = await h.world.stored(execution_id)
    h.world.gpu.set_status(stored.provider_job_id, "IN_PROGRESS")
    await h.world.executions.get(h.world.alice.id, execution_id)
    await h.deliverer.run_once()
    await finish(h, execution_id, "FAILED")
    await h.deliverer.run_once()
    types = [json.loads(body)["type"] for _, _, body in h.receiver.received]
    assert types == ["execution.started", "execution.completed"]
    ids = {headers["webhook-id"] for _, headers, _ in h.receiver.received}
    assert len(ids) == 2


async def test_no_webhook_no_event() -> None:
    h = await hooks()
    result = await h.world.executions.run(
        RunRequest(h.world.alice.id, h.world.model.slug, {"prompt": "x"})
    )
    await finish(h, result.view.execution.id)
    assert await h.deliverer.run_once() == 0
    assert h.receiver.received == []


async def test_failures_are_retried_after_growing_delays_with_one_webhook_id() -> None:
    h = await hooks()
    h.receiver.statuses = [500, 503, 500, 200]
    execution_id = await run(h)
    await finish(h, execution_id)
    await h.deliverer.run_once()
    for delay in (5, 30, 120):
        h.clock.advance(delay - 1)
        assert await h.deliverer.run_once() == 0  # not due yet
        h.clock.advance(1)
        assert await h.deliverer.run_once() == 1
    assert len({headers["webhook-id"] for _, headers, _ in h.receiver.received}) == 1
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    assert [(line.attempt, line.status, line.response_status) for line in log] == [
        (1, DeliveryStatus.RETRYING, 500),
        (2, DeliveryStatus.RETRYING, 503),
        (3, DeliveryStatus.RETRYING, 500),
        (4, DeliveryStatus.DELIVERED, 200),
    ]
    assert log[0].next_attempt_at is not None and log[-1].next_attempt_at is None


async def test_after_the_last_delay_the_event_fails() -> None:
    h = await hooks(delays=(1, 2))
    h.receiver.statuses = [500] * 10
    execution_id = await run(h)
    await finish(h, execution_id)
    for _ in range(6):
        await h.deliverer.run_once()
        h.clock.advance(5)
    assert len(h.receiver.received) == 3
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    assert [line.status for line in log] == [
        DeliveryStatus.RETRYING,
        DeliveryStatus.RETRYING,
        DeliveryStatus.FAILED,
    ]


async def test_a_claimed_attempt_that_was_never_recorded_goes_again_after_its_lease() -> None:
    h = await hooks()
    execution_id = await run(h)
    await finish(h, execution_id)
    async with h.world.store.unit_of_work() as uow:  # a process claims it, then dies
        [claimed] = await uow.webhooks.claim_due(h.clock.now(), h.clock.now(), 10)
        await uow.commit()
    assert claimed.attempts == 1
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    assert [(line.attempt, line.status) for line in log] == [(1, DeliveryStatus.PENDING)]
    h.clock.advance(1)
    assert await h.deliverer.run_once() == 1
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    assert [(line.attempt, line.status) for line in log] == [(2, DeliveryStatus.DELIVERED)]


async def test_a_rotated_secret_signs_from_then_on() -> None:
    h = await hooks()
    first = await h.webhooks.secret(h.world.alice.id)
    assert first == await h.webhooks.secret(h.world.alice.id) and first.startswith("whsec_")
    rotated = await h.webhooks.rotate(h.world.alice.id)
    assert rotated != first and rotated == await h.webhooks.secret(h.world.alice.id)
    assert await h.webhooks.secret(h.world.bob.id) not in (first, rotated)
    execution_id = await run(h)
    await finish(h, execution_id)
    await h.deliverer.run_once()
    [(_, headers, body)] = h.receiver.received
    Webhook(rotated).verify(body, headers)


async def test_refused_destination_and_filter_default() -> None:
    h = await hooks()
    with pytest.raises(Exception) as raised:
        await h.webhooks.request("https://internal.example/x", None)
    assert getattr(raised.value, "code", None) == "ERR_2001"
    chosen = await h.webhooks.request(HOOK, [WebhookFilter.START, WebhookFilter.START])
    assert chosen == WebhookRequest(HOOK, (WebhookFilter.START,))
    assert (await h.webhooks.request(HOOK, None)).events == (WebhookFilter.COMPLETED,)


async def test_another_consumers_log_is_not_found() -> None:
    h = await hooks()
    execution_id = await run(h)
    with pytest.raises(Exception) as raised:
        await h.webhooks.deliveries(h.world.bob.id, execution_id)
    assert getattr(raised.value, "code", None) == "ERR_5505"


@dataclass
class HeldReceiver(Receiver):
    """Holds each request until ``release`` is set."""

    sending: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.sending.set()
        await self.release.wait()
        return await super().send(url, headers, body)


async def test_a_stopped_deliverer_records_the_attempt_it_was_sending_and_ends() -> None:
    h = await hooks()
    held = HeldReceiver()
    deliverer = WebhookDeliverer(h.world.store.unit_of_work, h.clock, held, render)
    execution_id = await run(h)
    await finish(h, execution_id)
    loop = asyncio.create_task(deliverer.run_forever(interval_s=0.01))
    await asyncio.wait_for(held.sending.wait(), 5)
    deliverer.stop()
    held.release.set()
    await asyncio.wait_for(loop, 5)  # ends by itself: no cancellation
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    assert [(line.attempt, line.status) for line in log] == [(1, DeliveryStatus.DELIVERED)]


async def test_an_idle_deliverer_ends_at_once_when_stopped() -> None:
    h = await hooks()
    loop = asyncio.create_task(h.deliverer.run_forever(interval_s=3600))
    await asyncio.sleep(0.01)  # the loop is waiting out its interval
    h.deliverer.stop()
    await asyncio.wait_for(loop, 5)
    assert loop.done() and not loop.cancelled()


async def _run_to(h: Hooks, url: str) -> uuid.UUID:
    request = await h.webhooks.request(url, None)
    result = await h.world.executions.run(
        RunRequest(h.world.alice.id, h.world.model.slug, {"prompt": "x"}, webhook=request)
    )
    await finish(h, result.view.execution.id)
    return result.view.execution.id


async def _attempts(h: Hooks, execution_id: uuid.UUID) -> list[tuple[int, DeliveryStatus]]:
    log = await h.webhooks.deliveries(h.world.alice.id, execution_id)
    return [(line.attempt, line.status) for line in log]


async def test_a_busy_or_failing_host_gets_its_events_later_without_losing_attempts() -> None:
    h = await hooks(delays=(1000,))
    settings = DeliverySettings(
        retry_delays_s=(1000,),
        per_destination=1,
        circuit_failures=2,
        circuit_open_s=100,
        busy_delay_s=1,
    )
    deliverer = WebhookDeliverer(h.world.store.unit_of_work, h.clock, h.receiver, render, settings)
    h.receiver.statuses = [500, 500]
    first, second, third = [await _run_to(h, HOOK) for _ in range(3)]
    # One attempt at a time to the host: the other two are given back, not attempted.
    assert await deliverer.run_once() == 3
    assert len(h.receiver.received) == 1
    retrying = [(1, DeliveryStatus.RETRYING), (2, DeliveryStatus.PENDING)]
    assert await _attempts(h, first) == retrying
    assert await _attempts(h, third) == [(1, DeliveryStatus.PENDING)]  # the first, to come
    h.clock.advance(1)
    assert await deliverer.run_once() == 2
    assert await _attempts(h, second) == retrying  # the host's second failure in a row
    # The circuit is open: the third waits for it, its attempt still not counted, while
    # another host is attempted at once.
    other = await _run_to(h, "https://other.example/hook")
    h.clock.advance(1)
    assert await deliverer.run_once() == 2
    assert [url for url, _, _ in h.receiver.received] == [HOOK, HOOK, "https://other.example/hook"]
    assert await _attempts(h, other) == [(1, DeliveryStatus.DELIVERED)]
    assert await _attempts(h, third) == [(1, DeliveryStatus.PENDING)]
    h.clock.advance(96)  # the circuit opened 3 s ago (finishing ``other`` took 2)
    assert await deliverer.run_once() == 0  # given back until the circuit closes
    h.clock.advance(1)
    assert await deliverer.run_once() == 1
    assert await _attempts(h, third) == [(1, DeliveryStatus.DELIVERED)]


async def test_a_pass_does_not_wait_for_a_hanging_attempt() -> None:
    h = await hooks()
    held = HeldReceiver()
    deliverer = WebhookDeliverer(h.world.store.unit_of_work, h.clock, held, render)
    stuck = await _run_to(h, HOOK)
    loop = asyncio.create_task(deliverer.run_forever(interval_s=0.01))
    await asyncio.wait_for(held.sending.wait(), 5)
    held.sending.clear()
    other = await _run_to(h, "https://other.example/hook")
    await asyncio.wait_for(held.sending.wait(), 5)  # sent while the first still hangs
    assert deliverer.in_flight == 2
    deliverer.stop()
    held.release.set()
    await asyncio.wait_for(loop, 5)
    assert await _attempts(h, stuck) == [(1, DeliveryStatus.DELIVERED)]
    assert await _attempts(h, other) == [(1, DeliveryStatus.DELIVERED)]
