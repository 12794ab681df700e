"""fal's webhooks, end to end: the fake fal queue on loopback calls the ``fal_webhook``
URL the service sent with the submit, and the service (on PostgreSQL, no reconciler, an
hour between polls) learns of the completion through that call alone; with the fake's
webhooks turned off, the same run stays unfinished without a poll."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port

from entrypoints.container import build_container
from entrypoints.http.app import create_app

from .receivers import wait_until
from .support import Api, tokens
from .test_fal_e2e import (  # noqa: F401  (fixtures)
    FAL_MODEL,
    Fakes,
    fakes,
    publish,
    run,
    settings_for,
    stored,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def api(fakes: Fakes, database_url: str) -> AsyncIterator[Api]:  # noqa: F811
    """The service on a loopback port that is its public URL (the callbacks' base), with
    no reconciler and an hour between status polls."""
    port = unused_port()
    settings = settings_for(
        fakes,
        database_url,
        reconciler_enabled=False,
        status_poll_min_interval=3600.0,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    server = TestServer(create_app(build_container(settings)), host="127.0.0.1", port=port)
    client = TestClient(server)
    await client.start_server()
    try:
        yield Api(client, tokens())
    finally:
        await client.close()


def outcome(both: Fakes, request_id: str) -> str | None:
    return both.webhooks.outcomes().get(request_id)


async def test_fals_webhook_completes_the_execution_without_any_poll(
    api: Api,
    fakes: Fakes,  # noqa: F811
    database_url: str,
) -> None:
    fakes.fal_faults.webhooks = True
    slug = await publish(api, "fal", FAL_MODEL, "flux-called-back")
    started = await run(api, slug, {"prompt": "a lighthouse"})
    [request] = fakes.queue.requests.values()
    assert request.webhook is not None and started["id"] in request.webhook

    async def completed() -> bool:
        return (await stored(database_url, started["id"])).status.value == "COMPLETED"

    await wait_until(completed, "the execution to complete")
    assert outcome(fakes, request.request_id) == "delivered"
    [delivery] = fakes.webhooks.deliveries
    assert delivery.statuses == [200]
    assert delivery.body is not None and delivery.body["status"] == "OK"
    # The notice made the service read the request once; no poll read it before.
    assert fakes.fal_statuses("status") == [200]
    execution = await stored(database_url, started["id"])
    assert execution.output_payload["images"][0]["url"] == {
        "$file": f"executions/{started['id']}/0.png"
    }


async def test_with_the_webhooks_off_the_execution_waits_for_a_poll(
    api: Api,
    fakes: Fakes,  # noqa: F811
    database_url: str,
) -> None:
    fakes.fal_faults.webhooks = False
    slug = await publish(api, "fal", FAL_MODEL, "flux-not-called")
    started = await run(api, slug, {"prompt": "a lighthouse"})
    [request] = fakes.queue.requests.values()
    # "skipped": the request completed at fal and its webhook was not called.
    await wait_until(
        lambda: outcome(fakes, request.request_id) == "skipped", "fal to finish the request"
    )
    assert fakes.fal_statuses("status") == []
    execution = await stored(database_url, started["id"])
    assert execution.status.value in ("QUEUED", "RUNNING")
