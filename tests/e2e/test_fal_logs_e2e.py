"""A fal job's log lines and place in the queue, end to end: the service on PostgreSQL
reads them from the fake fal queue over HTTP (``?logs=1``) and shows them on the
execution, in its event stream (``event: logs`` with the new lines) and to a ``logs``
webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .conftest import ClientFactory
from .receivers import Receiver, wait_until
from .sse import next_event
from .support import Api
from .test_fal_e2e import (
    FAL_MODEL,
    RUNPOD_ENDPOINT,
    Fakes,
    poll,
    publish,
    run,
    service_api,
    started_fakes,
)

pytestmark = pytest.mark.postgres

RUN_S = 1.5  # each simulated fal job runs this long, reporting a step per 10%
QUEUE_S = 0.6


@pytest.fixture
async def slow_fakes() -> AsyncIterator[Fakes]:
    async with started_fakes(queue_s=QUEUE_S, run_s=RUN_S) as started:
        yield started


@pytest.fixture
async def api(slow_fakes: Fakes, database_url: str, aiohttp_client: ClientFactory) -> Api:
    return await service_api(slow_fakes, database_url, aiohttp_client)


def messages(lines: list[dict[str, Any]] | None) -> list[str]:
    return [line["message"] for line in lines or []]


async def test_queue_places_then_log_lines_reach_the_execution_its_stream_and_webhook(
    api: Api, slow_fakes: Fakes
) -> None:
    slug = await publish(api, "fal", FAL_MODEL, "flux-logs")
    receiver = Receiver()
    url = await receiver.start()
    try:
        ids = [
            (
                await run(
                    api, slug, {"prompt": f"fox {i}"}, webhook=url, webhookEventsFilter=["logs"]
                )
            )["id"]
            for i in range(3)
        ]
        # Queued behind two requests of the same app: fal says so, and so do we.
        third = await api.ok("GET", f"/api/consumer/executions/{ids[2]}", "consumer_a")
        assert third["status"] == "QUEUED" and third["queuePosition"] == 2
        assert third["logs"] is None

        seen: list[tuple[str, Any]] = []
        async with api.client.get(
            f"/api/consumer/executions/{ids[0]}/events",
            headers={"Authorization": f"Bearer {api.tokens['consumer_a']}"},
        ) as events:
            while (event := await next_event(events)) is not None:
                if event.name is not None:
                    seen.append((event.name, event.data))
        statuses = [data["status"] for name, data in seen if name == "status"]
        assert statuses[-1] == "COMPLETED"
        # Steps arrive as ``logs`` events, each with only the lines new since the last.
        streamed = [line for name, data in seen if name == "logs" for line in data]
        assert streamed, f"no logs event before the end: {[n for n, _ in seen]}"
        assert len(messages(streamed)) == len(set(messages(streamed)))  # each line once
        assert all(m.startswith("Step ") for m in messages(streamed))
        assert seen.index(next(s for s in seen if s[0] == "logs")) < len(seen) - 1

        done = await poll(api, ids[0])
        lines = messages(done["logs"])
        assert lines[0] == "Simulated runner started the request"
        assert lines[-2:] == ["Step 10/10", "Simulated runner finished the request"]
        assert done["queuePosition"] is None
        assert {"level", "source", "timestamp"} <= set(done["logs"][0])
        for step in messages(streamed):
            assert step in lines

        # The list shows them too; the webhook got the execution with its lines so far.
        page = await api.ok("GET", "/api/consumer/executions", "consumer_a")
        listed = {item["id"]: item for item in page}
        assert messages(listed[ids[0]]["logs"]) == lines

        def hooked() -> bool:
            return any(r.json["data"]["id"] == ids[0] for r in receiver.received)

        await wait_until(hooked, "a logs webhook")
        bodies = [r.json for r in receiver.received if r.json["data"]["id"] == ids[0]]
        assert {b["type"] for b in bodies} == {"execution.logs"}
        assert all(b["data"]["logs"] for b in bodies)
        for ex in ids[1:]:
            await poll(api, ex)
    finally:
        await receiver.close()


async def test_a_runpod_job_has_no_logs_and_no_queue_place(api: Api, slow_fakes: Fakes) -> None:
    slug = await publish(api, "runpod", RUNPOD_ENDPOINT, "sdxl-quiet")
    execution = await run(api, slug, {"prompt": "a fox"})
    assert execution["logs"] is None and execution["queuePosition"] is None
    done = await poll(api, execution["id"])
    assert done["status"] == "COMPLETED"
    assert done["logs"] is None and done["queuePosition"] is None
