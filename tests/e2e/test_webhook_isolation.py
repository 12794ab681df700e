"""One consumer's hanging receiver never holds up another consumer's webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from entrypoints.config import Settings

from .conftest import make_settings
from .receivers import HangingReceiver, Receiver, wait_until
from .support import Api, World

HANGING_DELIVERIES = 60


@pytest.fixture
def settings() -> Settings:
    """Runs finish at once; a receiver is given 60 s (the most allowed) to answer."""
    return make_settings(
        webhook_allow_private=True,
        webhook_delivery_enabled=True,
        webhook_delivery_interval=0.02,
        webhook_timeout=60.0,
        max_active_executions=1000,
    )


@pytest.fixture
async def hanging() -> AsyncIterator[HangingReceiver]:
    found = HangingReceiver()
    yield found
    await found.close()


@pytest.fixture
async def bystander() -> AsyncIterator[Receiver]:
    found = Receiver()
    yield found
    await found.close()


async def _run(api: Api, world: World, who: str, hook: str) -> str:
    body = {"inputs": {"prompt": "a fox"}, "webhook": hook}
    path = f"/api/marketplace/models/{world.slug}/run?wait=5"
    data = await api.ok("POST", path, who, body, 200)
    assert data["status"] == "COMPLETED"
    return str(data["id"])


async def test_a_bystander_is_delivered_while_60_deliveries_hang(
    api: Api,
    world: World,
    hanging: HangingReceiver,
    bystander: Receiver,
    settings: Settings,
) -> None:
    stuck_url = await hanging.start()
    stuck = [await _run(api, world, "consumer_a", stuck_url) for _ in range(HANGING_DELIVERIES)]
    per_host = settings.webhooks.concurrency_per_host
    await wait_until(lambda: hanging.arrived >= per_host, "the hanging receiver to be busy")
    mine = await _run(api, world, "consumer_b", await bystander.start())
    await wait_until(lambda: len(bystander.received) == 1, "the bystander's delivery")
    # Delivered while every attempt at the hanging receiver still hangs (none answered,
    # none timed out): nothing of the bystander's waited for them.
    assert hanging.answered == 0
    assert bystander.received[0].json["data"]["id"] == mine
    assert bystander.received[0].json["type"] == "execution.completed"
    # The hanging host never had more than its share at once, and the events that were
    # not sent lost no attempt: all are still to be delivered.
    assert hanging.arrived == hanging.most_at_once == per_host
    for execution_id in stuck:
        path = f"/api/consumer/executions/{execution_id}/webhook-deliveries"
        [line] = await api.ok("GET", path, "consumer_a")
        assert (line["attempt"], line["status"], line["responseStatus"]) == (1, "PENDING", None)
