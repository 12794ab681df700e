"""``GET /metrics``: what an operator sees after real traffic and during an outage."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from tarsify.domain.models import ExecutionStatus
from tests.metrics_text import names, value

from .conftest import ClientFactory, make_settings
from .support import Api, World, seed, tokens

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/tarsify"


async def scrape(api: Api) -> str:
    """The exposition, checked to be Prometheus text without the envelope."""
    reply = await api.client.get("/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return await reply.text()


async def test_a_run_through_the_simulator_moves_the_counters(api: Api, world: World) -> None:
    before = await scrape(api)
    run = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "a fox"}},
        202,
    )
    done = await api.ok("GET", f"/api/consumer/executions/{run['id']}", "consumer_a")
    assert done["status"] == "COMPLETED"
    after = await scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    calls = "tarsify_gpu_provider_calls_total"
    assert moved(calls, provider="runpod", operation="submit", outcome="ok") == 1
    assert moved(calls, provider="runpod", operation="status", outcome="ok") == 1
    assert (
        moved("tarsify_gpu_provider_call_seconds_count", provider="runpod", operation="submit") == 1
    )
    assert value(after, "tarsify_executions", status="COMPLETED") == 1
    for status in ExecutionStatus:
        if status is not ExecutionStatus.COMPLETED:
            assert value(after, "tarsify_executions", status=status.value) == 0, status
    route = "/api/consumer/executions/{id}"
    assert value(after, "tarsify_http_requests_total", method="GET", route=route, status="200")
    assert "tarsify_storage_errors_total" not in names(after)


async def test_a_cancel_is_counted(api: Api, world: World, container: Container) -> None:
    container.simulator_engine().hang_next()
    run = await api.ok(
        "POST",
        f"/api/marketplace/models/{world.slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "an owl"}},
        202,
    )
    await api.ok("POST", f"/api/consumer/executions/{run['id']}/cancel", "consumer_a")
    text = await scrape(api)
    calls = "tarsify_gpu_provider_calls_total"
    assert value(text, calls, provider="runpod", operation="cancel", outcome="ok") == 1
    assert value(text, "tarsify_executions", status="CANCELLED") == 1


async def test_storage_errors_are_counted_while_the_database_is_down(
    aiohttp_client: ClientFactory,
) -> None:
    settings = make_settings(database_url=UNREACHABLE)
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    ready = await api.client.get("/health/ready")
    assert ready.status == 503
    first = await scrape(api)
    errors = "tarsify_storage_errors_total"
    assert value(first, errors, operation="health.ping") == 1
    assert value(first, errors, operation="stats.count_by_status") == 1
    assert "tarsify_executions" not in names(first), "unknown counts are not shown as 0"
    second = await scrape(api)
    assert value(second, errors, operation="stats.count_by_status") == 2
    assert (
        value(
            second, "tarsify_http_requests_total", method="GET", route="/health/ready", status="503"
        )
        == 1
    )


async def test_two_apps_keep_separate_figures(aiohttp_client: ClientFactory) -> None:
    one = Api(await aiohttp_client(create_app(build_container(make_settings()))), tokens())
    two = Api(await aiohttp_client(create_app(build_container(make_settings()))), tokens())
    await seed(one)
    counted = "tarsify_http_requests_total"
    route = "/api/admin/endpoints"
    assert value(await scrape(one), counted, method="POST", route=route, status="201") == 1
    assert value(await scrape(two), counted, method="POST", route=route, status="201") == 0


async def test_reconcile_passes_and_failed_passes_are_measured(
    aiohttp_client: ClientFactory,
) -> None:
    container = build_container(make_settings(reconciler_enabled=True, reconciler_interval=0.01))
    api = Api(await aiohttp_client(create_app(container)), tokens())
    for _ in range(500):
        text = await scrape(api)
        if value(text, "tarsify_reconcile_pass_seconds_count") >= 1:
            break
        await asyncio.sleep(0.01)
    assert value(text, "tarsify_reconcile_errors_total", kind="pass") == 0
    container.memory_store().down = True
    for _ in range(500):
        text = await scrape(api)
        if value(text, "tarsify_reconcile_errors_total", kind="pass") >= 1:
            break
        await asyncio.sleep(0.01)
    assert value(text, "tarsify_reconcile_errors_total", kind="pass") >= 1
