"""Credits over HTTP: grants, prices, 402 and 429, cost, balances, earnings and ledgers."""

from __future__ import annotations

from typing import Any

import pytest

from entrypoints.config import Settings
from entrypoints.container import Container

from .conftest import make_settings
from .support import Api, World

GRANT = "/api/admin/consumers/cons-a/credits"
CREDITS = "/api/consumer/credits"
EARNINGS = "/api/developer/earnings"


async def _price(api: Api, world: World, price: int) -> dict[str, Any]:
    path = f"/api/developer/tars-models/{world.model_id}"
    data: dict[str, Any] = await api.ok("PATCH", path, "developer_x", {"pricePerRun": price})
    return data


async def _run(api: Api, world: World, wait: int = 5) -> Any:
    path = f"/api/marketplace/models/{world.slug}/run?wait={wait}"
    return await api.call("POST", path, "consumer_a", {"inputs": {"prompt": "a fox"}})


async def test_a_paid_run_from_grant_to_earnings(api: Api, world: World) -> None:
    assert (await _price(api, world, 5))["pricePerRun"] == 5
    [item] = await api.ok("GET", "/api/marketplace/models")
    assert item["pricePerRun"] == 5
    detail = await api.ok("GET", f"/api/marketplace/models/{world.slug}")
    assert detail["pricePerRun"] == 5

    refused = await _run(api, world)
    assert (refused.status, refused.code) == (402, "ERR_6001")
    assert refused.body["error"]["details"] == {"price": 5, "balance": 0}
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []

    granted = await api.ok("POST", GRANT, "admin", {"amount": 12, "reason": "welcome"}, 201)
    assert (granted["uid"], granted["balance"], granted["held"]) == ("cons-a", 12, 0)
    assert (granted["entry"]["type"], granted["entry"]["amount"]) == ("GRANT", 12)

    reply = await _run(api, world)
    assert reply.status == 200, reply.text
    done = reply.data
    assert (done["status"], done["cost"]) == ("COMPLETED", 5)
    assert await api.ok("GET", CREDITS, "consumer_a") == {"balance": 7, "held": 0}
    assert await api.ok("GET", EARNINGS, "developer_x") == {"balance": 4}  # 5 less 20 %
    assert await api.ok("GET", EARNINGS, "developer_y") == {"balance": 0}
    me = await api.ok("GET", "/api/consumer/auth/me", "consumer_a")
    assert me["creditsBalance"] == 7

    ledger = await api.ok("GET", f"{CREDITS}/ledger", "consumer_a")
    assert [(e["type"], e["amount"]) for e in ledger] == [
        ("CAPTURE", -5),
        ("HOLD", -5),
        ("GRANT", 12),
    ]
    assert ledger[0]["executionId"] == done["id"] and ledger[2]["executionId"] is None
    earned = await api.ok("GET", f"{EARNINGS}/ledger", "developer_x")
    assert [(e["type"], e["amount"], e["executionId"]) for e in earned] == [
        ("EARNING", 4, done["id"])
    ]
    assert await api.ok("GET", f"{CREDITS}/ledger", "consumer_b") == []


async def test_ledgers_page_newest_first(api: Api, world: World) -> None:
    for amount in (1, 2, 3):
        await api.ok("POST", GRANT, "admin", {"amount": amount, "reason": "r"}, 201)
    first = await api.call("GET", f"{CREDITS}/ledger?limit=2", "consumer_a")
    assert [e["amount"] for e in first.data] == [3, 2]
    cursor = first.body["meta"]["nextCursor"]
    rest = await api.ok("GET", f"{CREDITS}/ledger?limit=2&cursor={cursor}", "consumer_a")
    assert [e["amount"] for e in rest] == [1]
    bad = await api.call("GET", f"{CREDITS}/ledger?cursor=nope", "consumer_a")
    assert (bad.status, bad.code) == (400, "ERR_2002")


async def test_a_cancelled_run_costs_nothing(api: Api, world: World, container: Container) -> None:
    await _price(api, world, 5)
    await api.ok("POST", GRANT, "admin", {"amount": 5, "reason": "r"}, 201)
    container.simulator_engine().hang_next()
    running = (await _run(api, world, wait=0)).data
    assert running["cost"] == 0
    assert await api.ok("GET", CREDITS, "consumer_a") == {"balance": 0, "held": 5}
    path = f"/api/consumer/executions/{running['id']}/cancel"
    cancelled = await api.ok("POST", path, "consumer_a")
    assert (cancelled["status"], cancelled["cost"]) == ("CANCELLED", 0)
    assert await api.ok("GET", CREDITS, "consumer_a") == {"balance": 5, "held": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "reason": "r"}, "amount"),
        ({"amount": -5, "reason": "r"}, "amount"),
        ({"amount": 1.5, "reason": "r"}, "amount"),
        ({"amount": 5}, "reason"),
        ({"amount": 5, "reason": ""}, "reason"),
    ],
)
async def test_a_grant_must_be_a_positive_whole_amount_with_a_reason(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    reply = await api.call("POST", GRANT, "admin", body)
    assert (reply.status, reply.code) == (400, "ERR_2001")
    assert field in {d["field"] for d in reply.body["error"]["details"]}
    assert await api.ok("GET", CREDITS, "consumer_a") == {"balance": 0, "held": 0}


async def test_grants_need_an_admin_and_a_registered_consumer(api: Api, world: World) -> None:
    body = {"amount": 5, "reason": "r"}
    assert (await api.call("POST", GRANT, "developer_x", body)).code == "ERR_1003"
    missing = await api.call("POST", "/api/admin/consumers/nobody/credits", "admin", body)
    assert (missing.status, missing.code) == (404, "ERR_3001")


async def test_prices_respect_the_base_models_minimum(api: Api, world: World) -> None:
    base = f"/api/admin/base-models/{world.base_model_id}"
    assert (await api.ok("PATCH", base, "admin", {"minPricePerRun": 3}))["minPricePerRun"] == 3
    low = await api.call(
        "PATCH", f"/api/developer/tars-models/{world.model_id}", "developer_x", {"pricePerRun": 2}
    )
    assert (low.status, low.code) == (400, "ERR_2001")
    assert low.body["error"]["details"][0]["field"] == "pricePerRun"
    created = await api.call(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": world.base_model_id, "title": "Cheap", "pricePerRun": 1},
    )
    assert (created.status, created.body["error"]["details"][0]["field"]) == (400, "pricePerRun")
    # A model priced before the minimum was raised costs the minimum.
    [item] = await api.ok("GET", "/api/marketplace/models")
    assert item["pricePerRun"] == 3
    negative = await api.call("PATCH", base, "admin", {"minPricePerRun": -1})
    assert negative.code == "ERR_2001"


@pytest.fixture
def settings() -> Settings:
    """This module's settings: at most two unfinished executions per consumer."""
    return make_settings(max_active_executions=2)


async def test_one_run_beyond_the_active_limit_is_429_with_retry_after(
    api: Api, world: World, container: Container
) -> None:
    for _ in range(2):
        container.simulator_engine().hang_next()
        assert (await _run(api, world, wait=0)).status == 202
    reply = await _run(api, world)
    assert (reply.status, reply.code) == (429, "ERR_4290")
    assert reply.headers["Retry-After"] == "10"  # the base model's estimate
    assert reply.body["error"]["details"] == {"limit": 2, "retryAfterSeconds": 10}
    assert len(await api.ok("GET", "/api/consumer/executions", "consumer_a")) == 2
    # Another consumer has their own allowance.
    other = await api.call(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_b",
        {"inputs": {"prompt": "x"}},
    )
    assert other.status == 202
