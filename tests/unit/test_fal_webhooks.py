"""The fake fal queue calls a request's ``fal_webhook`` once it completes, with fal's
webhook body, retries connection errors and 5xx a couple of times, obeys its
``webhooks`` knob, and its sender stops with the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer, unused_port

from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_api import QUEUE_KEY, create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_webhooks import WEBHOOKS_KEY, FalWebhookSender
from tarsify.domain.models import OutputType
from tests.e2e.receivers import Receiver, wait_until

KEY = "fal-hook-secret"
AUTH = {"Authorization": f"Key {KEY}"}
FLUX = "fal-ai/flux/dev"


@dataclass
class Rig:
    """The fake on loopback (its clock moved by the test), a receiver, and the sender."""

    fal: TestServer
    clock: ManualClock
    plan: FalFaultPlan
    receiver: Receiver
    hook: str

    @property
    def sender(self) -> FalWebhookSender:
        return self.fal.app[WEBHOOKS_KEY]

    async def submit(self, body: dict[str, Any] | None = None, hook: str | None = None) -> str:
        url = self.fal.make_url(f"/{FLUX}").with_query(fal_webhook=hook or self.hook)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=body or {"prompt": "a fox"}, headers=AUTH) as got,
        ):
            assert got.status == 200
            request_id: str = (await got.json())["request_id"]
        return request_id

    async def outcome(self, request_id: str) -> str:
        await wait_until(
            lambda: self.sender.outcomes().get(request_id) not in (None, "pending"),
            "the webhook's outcome",
        )
        return self.sender.outcomes()[request_id]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, id_suffix="", seed=3, now=clock)
    plan = FalFaultPlan()
    app = create_fake_fal_app(
        engine, KEY, {FLUX}, plan, output_types={FLUX: OutputType.IMAGE}, webhook_retry_delay_s=0
    )
    fal = TestServer(app, host="127.0.0.1")
    await fal.start_server()
    receiver = Receiver()
    hook = await receiver.start()
    try:
        yield Rig(fal, clock, plan, receiver, hook)
    finally:
        await fal.close()
        await receiver.close()


async def test_a_completed_request_posts_ok_and_its_output(rig: Rig) -> None:
    request_id = await rig.submit()
    await asyncio.sleep(0.1)  # several of the sender's ticks: nothing before completion
    assert rig.receiver.received == [] and rig.sender.outcomes() == {request_id: "pending"}
    rig.clock.advance(5)
    assert await rig.outcome(request_id) == "delivered"
    [got] = rig.receiver.received
    body = got.json
    assert set(body) == {"request_id", "gateway_request_id", "status", "payload"}
    assert (body["request_id"], body["gateway_request_id"]) == (request_id, request_id)
    assert body["status"] == "OK"
    image = body["payload"]["images"][0]
    assert image["url"].startswith(str(rig.fal.make_url("/files/")))
    # The payload is the result the request's URL answers.
    result_url = rig.fal.make_url(f"/fal-ai/flux/requests/{request_id}")
    async with aiohttp.ClientSession() as session, session.get(result_url, headers=AUTH) as answer:
        assert await answer.json() == body["payload"]


@pytest.mark.parametrize(
    ("simulate", "detail", "error"),
    [
        ("fail", "Simulated failure requested by the input", "Invalid status code: 500"),
        ("cancel", "Request was cancelled", "Invalid status code: 400"),
    ],
)
async def test_a_failed_or_cancelled_request_posts_error_and_its_detail(
    rig: Rig, simulate: str, detail: str, error: str
) -> None:
    body = {"prompt": "x", "simulate": "fail"} if simulate == "fail" else {"prompt": "x"}
    request_id = await rig.submit(body)
    if simulate == "cancel":
        queue = rig.fal.app[QUEUE_KEY]
        queue.cancel(queue.requests[request_id])
    rig.clock.advance(5)
    assert await rig.outcome(request_id) == "delivered"
    [got] = rig.receiver.received
    assert got.json == {
        "request_id": request_id,
        "gateway_request_id": request_id,
        "status": "ERROR",
        "error": error,
        "payload": {"detail": detail},
    }


async def test_5xx_answers_are_tried_again_then_given_up(rig: Rig) -> None:
    rig.receiver.statuses = [503, 500]
    first = await rig.submit()
    rig.clock.advance(5)
    assert await rig.outcome(first) == "delivered"
    assert [d.statuses for d in rig.sender.deliveries] == [[503, 500, 200]]
    rig.receiver.statuses = [502, 502, 502, 502]
    second = await rig.submit()
    rig.clock.advance(5)
    assert await rig.outcome(second) == "gave_up"
    assert rig.sender.deliveries[1].statuses == [502, 502, 502]  # three tries in all
    assert len(rig.receiver.received) == 6


async def test_a_4xx_answer_is_not_tried_again(rig: Rig) -> None:
    rig.receiver.statuses = [404]
    request_id = await rig.submit()
    rig.clock.advance(5)
    assert await rig.outcome(request_id) == "gave_up"
    assert len(rig.receiver.received) == 1


async def test_connection_errors_are_tried_again(rig: Rig) -> None:
    nobody = f"http://127.0.0.1:{unused_port()}/hook"
    request_id = await rig.submit(hook=nobody)
    rig.clock.advance(5)
    assert await rig.outcome(request_id) == "gave_up"
    assert rig.sender.deliveries[0].statuses == [0, 0, 0]


async def test_the_knob_off_calls_no_webhook(rig: Rig) -> None:
    rig.plan.webhooks = False
    request_id = await rig.submit()
    rig.clock.advance(5)
    assert await rig.outcome(request_id) == "skipped"
    assert rig.receiver.received == []
    rig.plan.clear()
    assert rig.plan.webhooks is True


async def test_shutdown_cancels_the_sender_cleanly() -> None:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, id_suffix="", now=clock)
    app = create_fake_fal_app(engine, KEY, {FLUX})
    fal = TestServer(app, host="127.0.0.1")
    before = set(asyncio.all_tasks())
    await fal.start_server()
    assert len(set(asyncio.all_tasks()) - before) >= 1
    await fal.close()
    await wait_until(lambda: set(asyncio.all_tasks()) <= before, "the sender to stop")
