"""The running service on PostgreSQL talking to a fake RunPod over real HTTP.

The app is built exactly as in production (``build_container(settings)``,
``create_app``) with ``GPU_PROVIDER=runpod``, ``RUNPOD_BASE_URL`` pointing at the fake
RunPod API on loopback (``adapters/providers/simulator/runpod_api.py``), a fresh migrated
PostgreSQL database and the background reconciler running on a short interval. structlog
is routed into stdlib logging, as ``configure_logging`` does, so ``caplog`` sees the
RunPod client's records as well as the engine's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer, unused_port
from yarl import URL

from adapters.providers.simulator.callbacks import SENDER_KEY
from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWork
from entrypoints.container import build_container
from entrypoints.http.app import RECONCILER_TASK, create_app
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus, OutputType
from tarsify.domain.pagination import PageRequest

from .conftest import ClientFactory, make_settings
from .support import Api, Reply, base_model_body, endpoint_body, tokens

pytestmark = pytest.mark.postgres

API_KEY = "rpa_E2E" + uuid.uuid4().hex.upper()
RUNPOD_ENDPOINT = "sdxl-e2e-q7x2kd9w"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "width": {"type": "integer", "minimum": 256, "maximum": 2048, "default": 1024},
        "seed": {"type": "integer", "minimum": 0},
        "simulate": {
            "type": "string",
            "enum": ["fail", "hang"],
            "description": "Ask the worker for a failure or a job that never ends",
        },
        "simulate_output": {
            "type": "string",
            "enum": ["data_uri", "base64", "url"],
            "description": "How the worker returns its image",
        },
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TERMINAL = ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED")


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of the test: stdlib directly, structlog rendered through stdlib."""
    caplog.set_level(logging.DEBUG)
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["event"]),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    try:
        yield caplog
    finally:
        structlog.reset_defaults()


@dataclass
class FakeRunPod:
    """The fake RunPod API on loopback, its job engine and its fault plan."""

    engine: SimulatorEngine
    faults: FaultPlan
    server: TestServer

    @property
    def url(self) -> str:
        return str(self.server.make_url(""))

    def statuses(self, route: str) -> list[int | None]:
        """HTTP statuses the fake answered on one route, in order."""
        return [r.status for r in self.faults.requests if r.route == route]


@pytest.fixture
async def fake_runpod(logs: pytest.LogCaptureFixture) -> AsyncIterator[FakeRunPod]:
    engine = SimulatorEngine(queue_delay_s=0.05, run_time_s=0.1)
    faults = FaultPlan()
    app = create_fake_runpod_app(
        engine, API_KEY, {RUNPOD_ENDPOINT}, faults, output_types={RUNPOD_ENDPOINT: OutputType.IMAGE}
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield FakeRunPod(engine, faults, server)
    finally:
        await server.close()


@dataclass
class Service:
    """The app under test, the fake behind it and a side door into its database."""

    api: Api
    runpod: FakeRunPod
    database_url: str
    logs: pytest.LogCaptureFixture
    slug: str = ""

    async def job_ids(self) -> dict[str, str]:
        """Execution id -> RunPod job id, read straight from the database."""
        engine = create_engine(self.database_url)
        try:
            sessions = session_factory(engine)
            async with SqlUnitOfWork(sessions) as uow:
                consumer = await uow.consumers.get_by_uid("cons-a")
                assert consumer is not None
                page = await uow.executions.list_for_consumer(consumer.id, PageRequest(limit=100))
                # A list shows no job ids: each execution is read as stored.
                stored = [await uow.executions.get(v.id) for v in page.items]
        finally:
            await engine.dispose()
        return {str(e.id): e.provider_job_id for e in stored if e and e.provider_job_id}

    async def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/marketplace/models/{self.slug}/run"
        data: dict[str, Any] = await self.api.ok(
            "POST", path, "consumer_a", {"inputs": inputs}, 202
        )
        return data

    async def poll(self, execution_id: str, until: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
        for _ in range(300):
            data: dict[str, Any] = await self.api.ok(
                "GET", f"/api/consumer/executions/{execution_id}", "consumer_a"
            )
            if data["status"] in until:
                return data
            await asyncio.sleep(0.02)
        raise AssertionError(f"execution never reached {until}: {data}")

    async def assert_nothing_leaked(self) -> None:
        """No key in any answer or log; no RunPod ids in non-admin answers."""
        job_ids = list((await self.job_ids()).values())
        assert job_ids, "the check needs jobs to look for"
        for method, path, reply in self.api.log:
            seen = _visible(reply)
            assert API_KEY not in seen, (method, path)
            if not path.startswith("/api/admin/"):
                assert RUNPOD_ENDPOINT not in seen, (method, path)
                for job_id in job_ids:
                    assert job_id not in seen, (method, path)
        records = self.logs.records
        assert any("runpod.call" in r.getMessage() for r in records), "RunPod calls are logged"
        for record in records:
            assert API_KEY not in record.getMessage()
            assert API_KEY not in repr(vars(record))
        assert API_KEY not in self.logs.text
        # The fake keeps no Authorization values either, only that one was sent.
        assert all(
            r.headers.get("Authorization") == "<redacted>" for r in self.runpod.faults.requests
        )


def _visible(reply: Reply) -> str:
    return reply.text + "".join(f"{k}: {v}\n" for k, v in reply.headers.items())


@pytest.fixture
async def svc(
    fake_runpod: FakeRunPod,
    database_url: str,
    logs: pytest.LogCaptureFixture,
    aiohttp_client: ClientFactory,
) -> Service:
    # The fake serves its output files on loopback: this service may download from there.
    return await serve(
        fake_runpod, database_url, logs, aiohttp_client, output_download_allow_private=True
    )


async def serve(
    fake_runpod: FakeRunPod,
    database_url: str,
    logs: pytest.LogCaptureFixture,
    aiohttp_client: ClientFactory,
    **overrides: Any,
) -> Service:
    """The service on the fake, with its reconciler, and the published model."""
    settings = make_settings(
        database_url=database_url,
        gpu_provider="runpod",
        runpod_base_url=fake_runpod.url,
        runpod_api_key=API_KEY,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        status_poll_min_interval=0.05,
        log_format="json",
        **overrides,
    )
    app = create_app(build_container(settings))
    api = Api(await aiohttp_client(app), tokens())
    assert not app[RECONCILER_TASK].done()
    service = Service(api, fake_runpod, database_url, logs)
    service.slug = await publish(api)
    return service


async def publish(api: Api) -> str:
    """Admin catalog on the fake's endpoint, a developer's published model, a consumer."""
    endpoint = await api.ok(
        "POST", "/api/admin/endpoints", "admin", endpoint_body(RUNPOD_ENDPOINT), 201
    )
    assert endpoint["runpodEndpointId"] == RUNPOD_ENDPOINT
    base = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        base_model_body(endpoint["id"], inputSchema=SCHEMA, estimatedSeconds=5),
        201,
    )
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    bases = await api.ok("GET", "/api/developer/base-models", "developer_x")
    assert [b["id"] for b in bases] == [base["id"]]
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {
            "baseModelId": base["id"],
            "title": "Harbour Lights",
            "configOverrides": {"defaultInputs": {"width": 512}, "hiddenFields": ["seed"]},
        },
        201,
    )
    published = await api.ok(
        "PATCH",
        f"/api/developer/tars-models/{model['id']}",
        "developer_x",
        {"status": "PUBLISHED"},
    )
    assert published["status"] == "PUBLISHED"
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", {}, 201)
    detail = await api.ok("GET", f"/api/marketplace/models/{model['slug']}", "consumer_a")
    assert detail["inputSchema"]["properties"]["simulate"]["enum"] == ["fail", "hang"]
    return str(model["slug"])


async def first_png(api: Api, output: dict[str, Any]) -> bytes:
    """The first image of an output: a signed link to the service's own file store."""
    url = URL(output["images"][0])
    assert url.path.startswith("/files/executions/") and url.query["sig"]
    response = await api.client.get(url.path_qs)
    assert response.status == 200 and response.content_type == "image/png"
    return await response.read()


# --- the marketplace loop --------------------------------------------------------------


async def test_run_complete_cancel_and_fail_through_runpod(svc: Service) -> None:
    # A run that completes, with a real PNG in its output.
    run = await svc.run({"prompt": "a lighthouse at dusk"})
    assert run["status"] in ("QUEUED", "RUNNING", "COMPLETED")
    done = await svc.poll(run["id"])
    assert done["status"] == "COMPLETED", done
    png = await first_png(svc.api, done["output"])
    assert png.startswith(PNG_SIGNATURE) and b"IHDR" in png[:16] and png.endswith(b"IEND\xaeB`\x82")
    assert done["error"] is None and done["completedAt"]
    assert done["queueTimeMs"] is not None and done["executionTimeMs"] is not None
    assert done["input"] == {"prompt": "a lighthouse at dusk"}
    [submitted] = svc.runpod.engine.inputs()
    assert submitted == {"prompt": "a lighthouse at dusk", "width": 512}

    # A run that hangs at the provider, cancelled by the consumer.
    hanging = await svc.run({"prompt": "forever", "simulate": "hang"})
    await svc.poll(hanging["id"], until=("RUNNING",))
    cancelled = await svc.api.ok(
        "POST", f"/api/consumer/executions/{hanging['id']}/cancel", "consumer_a"
    )
    assert cancelled["status"] == "CANCELLED" and cancelled["output"] is None
    job_id = (await svc.job_ids())[hanging["id"]]
    view = svc.runpod.engine.get(RUNPOD_ENDPOINT, job_id)
    assert view is not None and view.status == "CANCELLED"
    assert svc.runpod.statuses("cancel") == [200]
    again = await svc.api.call(
        "POST", f"/api/consumer/executions/{hanging['id']}/cancel", "consumer_a"
    )
    assert again.status == 409 and again.code == "ERR_5507"
    assert (await svc.poll(hanging["id"]))["status"] == "CANCELLED"

    # A run that fails in the worker: the message, never the traceback.
    failing = await svc.run({"prompt": "boom", "simulate": "fail"})
    failed = await svc.poll(failing["id"])
    assert failed["status"] == "FAILED" and failed["output"] is None
    assert failed["error"]["message"] == "Simulated failure requested by the input"
    assert failed["error"]["code"] == "JOB_FAILED"
    reply = svc.api.log[-1][2]
    for secret in ("Traceback", "error_traceback", "handler.py", "sim-worker", "RuntimeError"):
        assert secret not in reply.text

    listed = await svc.api.ok("GET", "/api/consumer/executions", "consumer_a")
    assert [e["status"] for e in listed] == ["FAILED", "CANCELLED", "COMPLETED"]
    await svc.assert_nothing_leaked()


# --- faults at the provider ------------------------------------------------------------


async def test_a_burst_of_5xx_on_status_is_survived(svc: Service) -> None:
    # At most two status calls are in flight (the reconciler's and a consumer's), each
    # retrying twice: five faults in a row exhaust at least one call's budget.
    svc.runpod.faults.fail_next("status", times=4, status=503)
    svc.runpod.faults.fail_next("status", times=1, status=502)
    run = await svc.run({"prompt": "through the storm"})
    done = await svc.poll(run["id"])
    assert done["status"] == "COMPLETED", done
    assert (await first_png(svc.api, done["output"])).startswith(PNG_SIGNATURE)
    statuses = svc.runpod.statuses("status")
    assert statuses[:5] == [503, 503, 503, 503, 502] and statuses[-1] == 200
    messages = [r.getMessage() for r in svc.logs.records]
    assert any("runpod.retry" in m for m in messages)
    assert any(m == "execution.poll_failed" for m in messages)
    await svc.assert_nothing_leaked()


async def test_a_429_on_run_is_sent_again_after_retry_after_without_holding_the_run(
    svc: Service,
) -> None:
    """The run request is answered at once (PENDING, RATE_LIMITED); the reconciler sends
    the job again once RunPod's Retry-After has passed, and only one job runs."""
    svc.runpod.faults.throttle_next("run", times=1, retry_after=1.5)
    run = await svc.run({"prompt": "patience"})
    assert run["status"] == "PENDING"
    assert run["pendingReason"]["code"] == "RATE_LIMITED"
    assert len([r for r in svc.runpod.faults.requests if r.route == "run"]) == 1
    done = await svc.poll(run["id"])
    assert done["status"] == "COMPLETED"
    first, second = [r for r in svc.runpod.faults.requests if r.route == "run"]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.5
    assert len(svc.runpod.engine.inputs()) == 1  # one job, not two
    await svc.assert_nothing_leaked()


# --- the reconciler --------------------------------------------------------------------


async def test_output_survives_the_providers_retention_without_any_poll(svc: Service) -> None:
    svc.runpod.engine.retention_s = 0.5
    run = await svc.run({"prompt": "nobody is watching"})
    job_id = (await svc.job_ids())[run["id"]]
    # The consumer looks away; the fake forgets the job once its retention runs out.
    for _ in range(300):
        if svc.runpod.engine.get(RUNPOD_ENDPOINT, job_id) is None:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the fake never forgot the job")
    assert svc.runpod.statuses("status"), "only the reconciler can have asked"
    found = await svc.api.ok("GET", f"/api/consumer/executions/{run['id']}", "consumer_a")
    assert found["status"] == "COMPLETED", found
    assert (await first_png(svc.api, found["output"])).startswith(PNG_SIGNATURE)
    await svc.assert_nothing_leaked()


# --- provider callbacks --------------------------------------------------------------
# No reconciler and a poll interval of an hour: the only way these executions can learn
# that their job finished is the callback, which makes the service re-read the job.

PROMPT = {"inputs": {"prompt": "x"}}


@pytest.fixture
async def served(fake_runpod: FakeRunPod, database_url: str) -> AsyncIterator[Api]:
    port = unused_port()
    settings = make_settings(
        database_url=database_url,
        gpu_provider="runpod",
        runpod_base_url=fake_runpod.url,
        runpod_api_key=API_KEY,
        reconciler_enabled=False,
        status_poll_min_interval=3600.0,
        public_base_url=f"http://127.0.0.1:{port}",
        output_download_allow_private=True,  # the fake serves its files on loopback
    )
    server = TestServer(create_app(build_container(settings)), host="127.0.0.1", port=port)
    client = TestClient(server)
    await client.start_server()
    try:
        yield Api(client, tokens())
    finally:
        await client.close()


async def stored_execution(database_url: str, execution_id: str) -> Execution:
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            execution = await uow.executions.get(uuid.UUID(execution_id))
    finally:
        await engine.dispose()
    assert execution is not None
    return execution


async def test_a_callback_completes_the_execution_without_any_poll(
    served: Api, fake_runpod: FakeRunPod, database_url: str
) -> None:
    slug = await publish(served)
    run = await served.ok(
        "POST",
        f"/api/marketplace/models/{slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "x"}},
        202,
    )
    sender = fake_runpod.server.app[SENDER_KEY]
    [delivery] = sender.deliveries
    assert delivery.url.startswith(f"http://127.0.0.1:{served.client.port}/webhooks/runpod/")
    assert run["id"] in delivery.url
    for _ in range(200):
        if delivery.delivered:
            break
        await asyncio.sleep(0.02)
    assert delivery.statuses == [200]
    execution = await stored_execution(database_url, run["id"])
    assert execution.status is ExecutionStatus.COMPLETED
    # Stored as a reference to the file store, never as inline data.
    assert execution.output_payload["images"][0] == {"$file": f"executions/{run['id']}/0.png"}
    status_calls = [r for r in fake_runpod.faults.requests if r.route == "status"]
    assert len(status_calls) == 1  # the one re-read the callback asked for


async def test_a_forged_callback_is_refused(served: Api, fake_runpod: FakeRunPod) -> None:
    slug = await publish(served)
    fake_runpod.engine.hang_next()
    run = await served.ok(
        "POST",
        f"/api/marketplace/models/{slug}/run",
        "consumer_a",
        {"inputs": {"prompt": "x"}},
        202,
    )
    forged = await served.call(
        "POST", f"/webhooks/runpod/{run['id']}/{'A' * 43}", json_body={"status": "COMPLETED"}
    )
    assert (forged.status, forged.code) == (404, "ERR_3001")
    assert not [r for r in fake_runpod.faults.requests if r.route == "status"]


async def test_a_worker_url_into_the_services_own_network_is_not_fetched(
    fake_runpod: FakeRunPod,
    database_url: str,
    logs: pytest.LogCaptureFixture,
    aiohttp_client: ClientFactory,
) -> None:
    """By default (no OUTPUT_DOWNLOAD_ALLOW_PRIVATE) a worker's URL on loopback fails the
    run instead of making the service read its own network."""
    svc = await serve(fake_runpod, database_url, logs, aiohttp_client)
    run = await svc.run({"prompt": "a red fox", "simulate_output": "url"})
    done = await svc.poll(run["id"])
    assert done["status"] == "FAILED", done
    assert done["error"]["code"] == "OUTPUT_DOWNLOAD_FAILED"
    assert "internal address (127.0.0.1)" in done["error"]["message"]
    assert done["output"] is None and "_files" not in json.dumps(done)


@pytest.mark.parametrize("style", ["base64", "url"])
async def test_bare_base64_and_expiring_urls_become_files_of_our_own(
    svc: Service, style: str
) -> None:
    run = await svc.run({"prompt": "a red fox", "simulate_output": style})
    done = await svc.poll(run["id"])
    assert done["status"] == "COMPLETED", done
    png = await first_png(svc.api, done["output"])
    assert png.startswith(PNG_SIGNATURE) and png.endswith(b"IEND\xaeB`\x82")
    if style == "url":
        # The provider's expiring link was copied: ours points at our own file store.
        assert done["output"]["image_url"].split("?")[0].endswith(f"{run['id']}/0.png")
        assert "_files" not in json.dumps(done["output"])
