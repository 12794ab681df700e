"""Webhooks to consumers over real HTTP: a receiver on loopback gets signed events."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from entrypoints.config import Settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app

from .conftest import ClientFactory, make_settings
from .receivers import Receiver, wait_until
from .support import Api, World, seed, tokens

FAST = {
    "webhook_allow_private": True,
    "webhook_delivery_enabled": True,
    "webhook_delivery_interval": 0.02,
    "webhook_retry_delays": "0.05,0.05,0.05,0.05",
}


@pytest.fixture
def settings() -> Settings:
    """Loopback receivers allowed, delivery on, short retry delays; jobs run 0.5 s."""
    return make_settings(simulator_run_seconds=0.5, **FAST)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    yield found
    await found.close()


async def run(api: Api, world: World, **extra: Any) -> str:
    body = {"inputs": {"prompt": "a fox"}, **extra}
    started = await api.ok(
        "POST", f"/api/marketplace/models/{world.slug}/run", "consumer_a", body, 202
    )
    return str(started["id"])


async def until_final(api: Api, execution_id: str) -> list[str]:
    """Poll until terminal (each poll may move it on: no reconciler runs here); returns
    the statuses seen."""
    seen: list[str] = []

    async def final() -> bool:
        data = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
        seen.append(data["status"])
        return data["status"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")

    await wait_until(final, "a terminal status")
    return seen


async def test_receiver_gets_exactly_the_events_asked_for_each_signed(
    api: Api, world: World, receiver: Receiver
) -> None:
    url = await receiver.start()
    both = await run(api, world, webhook=url, webhookEventsFilter=["start", "completed"])
    assert "RUNNING" in await until_final(api, both)  # seen running: a start event
    default = await run(api, world, webhook=url)
    silent = await run(api, world)
    for execution_id in (default, silent):
        await until_final(api, execution_id)
    await wait_until(lambda: len(receiver.received) >= 3, "three deliveries")
    secret = (await api.ok("GET", "/api/consumer/webhooks/secret", "consumer_a"))["secret"]
    events = [(r.verified(secret)["data"]["id"], r.json["type"]) for r in receiver.received]
    assert sorted(events) == sorted(
        [
            (both, "execution.started"),
            (both, "execution.completed"),
            (default, "execution.completed"),
        ]
    )
    # The completed body's data is what GET answers (file outputs as signed links).
    completed = next(r for r in receiver.received if r.json["data"]["id"] == default)
    current = await api.ok("GET", f"/api/consumer/executions/{default}", "consumer_a")
    assert completed.json["data"]["status"] == "COMPLETED"
    assert set(completed.json["data"]) == set(current)
    assert (
        completed.json["data"]["output"]["images"][0].split("?")[0]
        == current["output"]["images"][0].split("?")[0]
    )
    log = await api.ok("GET", f"/api/consumer/executions/{both}/webhook-deliveries", "consumer_a")
    assert [(line["eventType"], line["status"], line["attempt"]) for line in log] == [
        ("execution.started", "DELIVERED", 1),
        ("execution.completed", "DELIVERED", 1),
    ]
    assert (
        await api.ok("GET", f"/api/consumer/executions/{silent}/webhook-deliveries", "consumer_a")
        == []
    )


async def test_three_failures_then_success_on_the_fourth_attempt_with_one_webhook_id(
    api: Api, world: World, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500, 500, 200]
    url = await receiver.start()
    execution_id = await run(api, world, webhook=url)
    await until_final(api, execution_id)
    path = f"/api/consumer/executions/{execution_id}/webhook-deliveries"

    async def delivered() -> bool:
        log = await api.ok("GET", path, "consumer_a")
        return any(line["status"] == "DELIVERED" for line in log)

    await wait_until(delivered, "the fourth attempt")
    assert len(receiver.received) == 4
    assert len(receiver.by_webhook_id()) == 1  # the same webhook-id on every attempt
    log = await api.ok("GET", path, "consumer_a")
    assert [(line["attempt"], line["status"], line["responseStatus"]) for line in log] == [
        (1, "RETRYING", 500),
        (2, "RETRYING", 500),
        (3, "RETRYING", 500),
        (4, "DELIVERED", 200),
    ]
    assert all(line["webhookId"] == log[0]["webhookId"] for line in log)
    assert log[0]["error"] == "HTTP 500" and log[3]["error"] is None
    assert all(isinstance(line["durationMs"], int) for line in log)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "ftp://example.com/hook",
        "not a url",
    ],
)
async def test_internal_destinations_are_refused_and_nothing_runs(
    url: str, aiohttp_client: ClientFactory
) -> None:
    refusing = build_container(make_settings(webhook_allow_private=False))
    api = Api(await aiohttp_client(create_app(refusing)), tokens())
    world = await seed(api)
    body = {"inputs": {"prompt": "a fox"}, "webhook": url}
    reply = await api.call("POST", f"/api/marketplace/models/{world.slug}/run", "consumer_a", body)
    assert (reply.status, reply.code) == (400, "ERR_2001")
    assert reply.body["error"]["details"][0]["field"] == "webhook"
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []


async def test_a_filter_without_a_webhook_or_an_unknown_event_is_refused(
    api: Api, world: World
) -> None:
    path = f"/api/marketplace/models/{world.slug}/run"
    for extra in (
        {"webhookEventsFilter": ["completed"]},
        {"webhook": "http://127.0.0.1/x", "webhookEventsFilter": ["done"]},
    ):
        reply = await api.call("POST", path, "consumer_a", {"inputs": {"prompt": "x"}, **extra})
        assert (reply.status, reply.code) == (400, "ERR_2001"), extra


async def test_secret_rotation_and_visibility(api: Api, world: World) -> None:
    first = (await api.ok("GET", "/api/consumer/webhooks/secret", "consumer_a"))["secret"]
    assert first.startswith("whsec_")
    assert (await api.ok("GET", "/api/consumer/webhooks/secret", "consumer_a"))["secret"] == first
    other = (await api.ok("GET", "/api/consumer/webhooks/secret", "consumer_b"))["secret"]
    rotated = (await api.ok("POST", "/api/consumer/webhooks/secret/rotate", "consumer_a"))["secret"]
    assert len({first, other, rotated}) == 3
    assert (await api.ok("GET", "/api/consumer/webhooks/secret", "consumer_a"))["secret"] == rotated
    execution_id = await run(api, world)
    reply = await api.call(
        "GET", f"/api/consumer/executions/{execution_id}/webhook-deliveries", "consumer_b"
    )
    assert (reply.status, reply.code) == (404, "ERR_5505")


async def test_a_new_service_on_the_same_database_delivers_what_the_old_one_did_not(
    tmp_path: Any, aiohttp_client: ClientFactory, receiver: Receiver
) -> None:
    from adapters.sql.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}"
    await upgrade(url)
    receiver.statuses = [500]
    hook = await receiver.start()
    db = {"database_url": url, "blob_store": "filesystem", "blob_filesystem_root": str(tmp_path)}
    # The first service's retry waits long enough to stop it in between.
    first = build_container(make_settings(**(FAST | db | {"webhook_retry_delays": "2"})))
    client: TestClient = await aiohttp_client(create_app(first))
    api = Api(client, tokens())
    world = await seed(api)
    done = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run?wait=5",
        "consumer_a",
        {"inputs": {"prompt": "x"}, "webhook": hook},
    )
    assert done["status"] == "COMPLETED"
    await wait_until(lambda: len(receiver.received) == 1, "the first attempt")

    async def first_attempt_recorded() -> bool:
        reply = await api.call(
            "GET", f"/api/consumer/executions/{done['id']}/webhook-deliveries", "consumer_a"
        )
        lines = reply.data if reply.status == 200 else []
        return any(line["attempt"] == 1 and line["status"] == "RETRYING" for line in lines)

    # Stopped after the attempt is recorded: stopped while it is being sent, the event would
    # wait for its lease to run out (30 s) before another service may send it again.
    await wait_until(first_attempt_recorded, "the first attempt to be recorded")
    await client.close()  # the service stops between two attempts
    second = build_container(make_settings(**(FAST | db)))
    api = Api(await aiohttp_client(create_app(second)), tokens())
    await wait_until(lambda: len(receiver.received) == 2, "the attempt of the new service")
    [(webhook_id, attempts)] = receiver.by_webhook_id().items()
    assert len(attempts) == 2
    log = await api.ok(
        "GET", f"/api/consumer/executions/{done['id']}/webhook-deliveries", "consumer_a"
    )
    assert [(line["attempt"], line["status"]) for line in log] == [
        (1, "RETRYING"),
        (2, "DELIVERED"),
    ]
    assert {line["webhookId"] for line in log} == {webhook_id}


async def test_output_events_carry_the_output_so_far_at_most_every_half_second(
    aiohttp_client: ClientFactory, receiver: Receiver
) -> None:
    settings = make_settings(simulator_run_seconds=2.0, **FAST)
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    world = await seed(api)
    path = f"/api/admin/base-models/{world.base_model_id}"
    assert (await api.ok("PATCH", path, "admin", {"streaming": True}))["streaming"] is True
    url = await receiver.start()
    execution_id = await run(api, world, webhook=url, webhookEventsFilter=["output", "completed"])
    await until_final(api, execution_id)
    final = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
    assert final["status"] == "COMPLETED" and len(final["output"]) == 16
    await wait_until(
        lambda: any(r.json["type"] == "execution.completed" for r in receiver.received),
        "the completed event",
    )
    outputs = [r.json["data"]["output"] for r in receiver.received]
    types = [r.json["type"] for r in receiver.received]
    assert types[-1] == "execution.completed" and outputs[-1] == final["output"]
    so_far = [o for o, t in zip(outputs, types, strict=True) if t == "execution.output"]
    assert len(so_far) >= 2
    for output in so_far:  # each the chunks so far, in order
        assert output and output == final["output"][: len(output)]
    deliveries = await api.ok(
        "GET", f"/api/consumer/executions/{execution_id}/webhook-deliveries", "consumer_a"
    )
    sent = sorted(
        datetime.fromisoformat(d["createdAt"])
        for d in deliveries
        if d["eventType"] == "execution.output"
    )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
    assert gaps and min(gaps) >= 0.45, gaps
