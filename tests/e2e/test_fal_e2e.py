"""The running service on PostgreSQL with a Tars model on a fal endpoint, talking to the
fake fal queue over real HTTP, beside a RunPod endpoint on the fake RunPod.

Built as in production (``build_container(settings)``, ``create_app``) with
``GPU_PROVIDER=real``: RunPod's key and fal's (``FAL_KEY``, ``FAL_QUEUE_URL`` pointing at
``adapters/providers/simulator/fal_api.py`` on loopback), a migrated PostgreSQL database
and the reconciler on a short interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port
from yarl import URL

from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.fal_api import QUEUE_KEY, create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_queue import FalQueue
from adapters.providers.simulator.fal_webhooks import WEBHOOKS_KEY, FalWebhookSender
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWork
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tarsify.domain.execution import Execution
from tarsify.domain.models import OutputType

from .conftest import ClientFactory, make_settings
from .receivers import Receiver, wait_until
from .sse import next_event, statuses_until_end
from .support import Api, base_model_body, endpoint_body, tokens

pytestmark = pytest.mark.postgres

FAL_KEY = "fal-e2e-" + uuid.uuid4().hex
RUNPOD_KEY = "rpa_E2E" + uuid.uuid4().hex.upper()
FAL_MODEL = "fal-ai/flux/schnell"
RUNPOD_ENDPOINT = "sdxl-beside-fal"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 12, "default": 4},
        "seed": {"type": "integer", "minimum": 0},
        "simulate": {"type": "string", "enum": ["fail", "hang"]},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TERMINAL = ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED")
GRANT = "/api/admin/consumers/cons-a/credits"


@dataclass
class Fakes:
    """The fake fal queue and the fake RunPod, each on loopback."""

    fal: TestServer
    fal_faults: FalFaultPlan
    runpod: TestServer

    @property
    def queue(self) -> FalQueue:
        return self.fal.app[QUEUE_KEY]

    @property
    def webhooks(self) -> FalWebhookSender:
        return self.fal.app[WEBHOOKS_KEY]

    def fal_statuses(self, route: str) -> list[int | None]:
        return [r.status for r in self.fal_faults.requests if r.route == route]


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with started_fakes(queue_s=0.05, run_s=0.1) as started:
        yield started


@contextlib.asynccontextmanager
async def started_fakes(
    queue_s: float, run_s: float, fal_models: dict[str, OutputType] | None = None
) -> AsyncIterator[Fakes]:
    """Both fakes on loopback; fal's jobs wait ``queue_s`` and run ``run_s``; fal knows
    ``fal_models`` (default: FLUX schnell, an image model)."""
    fal_models = fal_models or {FAL_MODEL: OutputType.IMAGE}
    # The service's public URL here (http://tarsify.test) is served by nobody: the fake
    # calls no webhook unless a test turns them on (test_fal_webhooks_e2e.py does).
    faults = FalFaultPlan(webhooks=False)
    fal_app = create_fake_fal_app(
        SimulatorEngine(queue_delay_s=queue_s, run_time_s=run_s),
        FAL_KEY,
        set(fal_models),
        faults,
        output_types=fal_models,
    )
    runpod_app = create_fake_runpod_app(
        SimulatorEngine(queue_delay_s=0.05, run_time_s=0.1),
        RUNPOD_KEY,
        {RUNPOD_ENDPOINT},
        FaultPlan(),
        output_types={RUNPOD_ENDPOINT: OutputType.IMAGE},
    )
    fal, runpod = TestServer(fal_app, host="127.0.0.1"), TestServer(runpod_app, host="127.0.0.1")
    await fal.start_server()
    await runpod.start_server()
    try:
        yield Fakes(fal, faults, runpod)
    finally:
        await fal.close()
        await runpod.close()


def settings_for(fakes: Fakes, database_url: str, **overrides: Any) -> Any:
    overrides.setdefault("fal_key", FAL_KEY)
    return make_settings(
        database_url=database_url,
        gpu_provider="real",
        runpod_api_key=RUNPOD_KEY,
        runpod_base_url=str(fakes.runpod.make_url("")),
        fal_queue_url=str(fakes.fal.make_url("")).rstrip("/"),
        fal_run_url=str(fakes.fal.make_url("")).rstrip("/"),  # the fake answers streams too
        output_download_allow_private=True,  # the fakes serve their files on loopback
        **overrides,
    )


async def publish(
    api: Api, provider: str, provider_id: str, slug: str, price: int = 0, **base: Any
) -> str:
    """An endpoint on ``provider``, a base model on it (``base``: more of its fields), a
    developer's published model."""
    body = {"provider": provider, "providerEndpointId": provider_id, "name": slug}
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", body, 201)
    base = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        base_model_body(endpoint["id"], slug=slug, inputSchema=SCHEMA, estimatedSeconds=5, **base),
        201,
    )
    await api.call("POST", "/api/developer/auth/register", "developer_x", {})
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {
            "baseModelId": base["id"],
            "title": f"Night {slug}",
            "configOverrides": {
                "defaultInputs": {"num_inference_steps": 2},
                "hiddenFields": ["seed"],
            },
        },
        201,
    )
    path = f"/api/developer/tars-models/{model['id']}"
    await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED", "pricePerRun": price})
    await api.call("POST", "/api/consumer/auth/register", "consumer_a", {})
    return str(model["slug"])


async def run(api: Api, slug: str, inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    path = f"/api/marketplace/models/{slug}/run"
    body = {"inputs": inputs, **extra}
    data: dict[str, Any] = await api.ok("POST", path, "consumer_a", body, 202)
    return data


async def poll(api: Api, execution_id: str, until: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    for _ in range(300):
        data: dict[str, Any] = await api.ok(
            "GET", f"/api/consumer/executions/{execution_id}", "consumer_a"
        )
        if data["status"] in until:
            return data
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution never reached {until}: {data}")


async def stored(database_url: str, execution_id: str) -> Execution:
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            execution = await uow.executions.get(uuid.UUID(execution_id))
    finally:
        await engine.dispose()
    assert execution is not None
    return execution


async def first_png(api: Api, output: dict[str, Any]) -> bytes:
    image = output["images"][0]
    url = URL(image["url"] if isinstance(image, dict) else image)
    assert url.path.startswith("/files/executions/") and url.query["sig"]
    response = await api.client.get(url.path_qs)
    assert response.status == 200 and response.content_type == "image/png"
    return await response.read()


@pytest.fixture
async def api(fakes: Fakes, database_url: str, aiohttp_client: ClientFactory) -> Api:
    return await service_api(fakes, database_url, aiohttp_client)


async def service_api(fakes: Fakes, database_url: str, aiohttp_client: ClientFactory) -> Api:
    """The service on the fakes: its reconciler and webhook delivery every few ms."""
    settings = settings_for(
        fakes,
        database_url,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        status_poll_min_interval=0.05,
        webhook_allow_private=True,
        webhook_delivery_enabled=True,
        webhook_delivery_interval=0.02,
    )
    return Api(await aiohttp_client(create_app(build_container(settings))), tokens())


async def test_a_tars_model_on_fal_runs_end_to_end_beside_runpod(
    api: Api, fakes: Fakes, database_url: str
) -> None:
    health = await api.ok("GET", "/health/ready")
    assert health["providers"] == ["fal", "runpod"] and health["simulated"] is False
    slug = await publish(api, "fal", FAL_MODEL, "flux-night", price=3)
    runpod_slug = await publish(api, "runpod", RUNPOD_ENDPOINT, "sdxl-night")
    await api.ok("POST", GRANT, "admin", {"amount": 10, "reason": "welcome"}, 201)
    receiver = Receiver()
    hook = await receiver.start()
    try:
        # Merge rules: fal receives the merged input itself as the body.
        started = await run(api, slug, {"prompt": "a harbour"}, webhook=hook)
        async with api.client.get(
            f"/api/consumer/executions/{started['id']}/events",
            headers={"Authorization": f"Bearer {api.tokens['consumer_a']}"},
        ) as response:
            first = await next_event(response)
            assert first is not None and first.name == "status"
            statuses = [first.data["status"], *await statuses_until_end(response)]
        assert statuses[-1] == "COMPLETED"
        done = await poll(api, started["id"])
        [request] = fakes.queue.requests.values()
        assert request.model_id == FAL_MODEL
        assert request.input == {"prompt": "a harbour", "num_inference_steps": 2}
        # fal is told where to call back (an address it cannot reach here: polled).
        assert request.webhook and started["id"] in request.webhook
        # Files copied into our store: fal's CDN link is replaced by ours.
        png = await first_png(api, done["output"])
        assert png.startswith(PNG_SIGNATURE)
        assert str(fakes.fal.make_url("")) not in str(done["output"])
        assert done["executionTimeMs"] is not None
        # Credits: the price is captured.
        assert await api.ok("GET", "/api/consumer/credits", "consumer_a") == {
            "balance": 7,
            "held": 0,
        }
        # The consumer's webhook told the end.
        await wait_until(
            lambda: _async(any(b"COMPLETED" in r.body for r in receiver.received)),
            "the completed webhook",
        )
    finally:
        await receiver.close()

    # Cancel reaches fal's queue.
    fakes.queue.engine.hang_next()
    hanging = await run(api, slug, {"prompt": "forever"})
    await poll(api, hanging["id"], until=("RUNNING", "QUEUED"))
    cancelled = await api.ok(
        "POST", f"/api/consumer/executions/{hanging['id']}/cancel", "consumer_a"
    )
    assert cancelled["status"] == "CANCELLED"
    assert fakes.fal_statuses("cancel") == [202]

    # A failure carries fal's message.
    failing = await run(api, slug, {"prompt": "boom", "simulate": "fail"})
    failed = await poll(api, failing["id"])
    assert failed["status"] == "FAILED", failed
    assert failed["error"]["message"] == "Simulated failure requested by the input"
    assert await api.ok("GET", "/api/consumer/credits", "consumer_a") == {"balance": 7, "held": 0}

    # The RunPod model runs beside it, on its own provider.
    beside = await poll(api, (await run(api, runpod_slug, {"prompt": "a pier"}))["id"])
    assert beside["status"] == "COMPLETED"
    assert len(fakes.queue.requests) == 3  # nothing of RunPod's went to fal

    # Provider ids never reach consumers; the stored target names the provider.
    execution = await stored(database_url, started["id"])
    assert execution.provider_endpoint_id == f"fal:{FAL_MODEL}"
    assert execution.provider_job_id and request.request_id in execution.provider_job_id
    for _method, path, reply in api.log:
        if not path.startswith("/api/admin/"):
            assert FAL_MODEL not in reply.text and request.request_id not in reply.text, path
            assert RUNPOD_ENDPOINT not in reply.text, path
        assert FAL_KEY not in reply.text
    metrics = await api.client.get("/metrics")
    text = await metrics.text()
    assert 'provider="fal"' in text and 'provider="runpod"' in text


async def _async(value: bool) -> bool:
    return value


async def test_fal_callbacks_complete_the_execution_without_any_poll(
    fakes: Fakes, database_url: str
) -> None:
    """No reconciler, an hour between polls: fal's webhook (its own body shape, posted
    here by the test) is the only way the execution learns that the request finished."""
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
        api = Api(client, tokens())
        slug = await publish(api, "fal", FAL_MODEL, "flux-hook")
        started = await run(api, slug, {"prompt": "x"})
        [request] = fakes.queue.requests.values()
        assert request.webhook is not None and started["id"] in request.webhook
        await wait_until(
            lambda: _async(_finished(fakes.queue, request.request_id)), "fal to finish"
        )
        # What fal posts: request_id, status OK, the payload (not trusted: re-read).
        body = {
            "request_id": request.request_id,
            "gateway_request_id": request.request_id,
            "status": "OK",
            "payload": {"images": []},
        }
        answer = await client.post(URL(request.webhook).path, json=body)
        assert answer.status == 200
        execution = await stored(database_url, started["id"])
        assert execution.status.value == "COMPLETED"
        assert execution.output_payload["images"][0]["url"] == {
            "$file": f"executions/{started['id']}/0.png"
        }
        assert fakes.fal_statuses("status") == [200]
    finally:
        await client.close()


def _finished(queue: FalQueue, request_id: str) -> bool:
    rec = queue.requests[request_id]
    found = queue.find(rec.app_id, request_id)
    return found is not None and found[1].status == "COMPLETED"


async def test_an_endpoint_on_a_provider_without_credentials_is_refused(
    fakes: Fakes, database_url: str, aiohttp_client: ClientFactory
) -> None:
    settings = settings_for(fakes, database_url, fal_key=None)
    api = Api(await aiohttp_client(create_app(build_container(settings))), tokens())
    body = {"provider": "fal", "providerEndpointId": FAL_MODEL, "name": "FLUX"}
    refused = await api.call("POST", "/api/admin/endpoints", "admin", body)
    assert (refused.status, refused.code) == (400, "ERR_2001")
    assert refused.body["error"]["details"][0]["field"] == "provider"
    assert (await api.ok("GET", "/health"))["providers"] == ["runpod"]
    await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body(RUNPOD_ENDPOINT), 201)
