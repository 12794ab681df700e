"""File inputs end to end on PostgreSQL, with the RunPod fake over HTTP: the worker
fetches the uploaded bytes by the signed link it was given, from this service (the
filesystem store) or from S3 (moto's server)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port

from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tarsify.domain.models import OutputType
from tests.contract.blob_stores import BUCKET, moto_url

from .conftest import make_settings
from .support import Api, endpoint_body, tokens
from .uploads_support import form, seed_stt, upload, wav_bytes

__all__ = ["moto_url"]
pytestmark = pytest.mark.postgres

API_KEY = "rpa_UPLOADS" + uuid.uuid4().hex.upper()
ENDPOINT = "whisper-e2e-u5k3"
WAV = wav_bytes(2.0)
LIMIT = 300_000


@pytest.fixture
async def runpod() -> AsyncIterator[tuple[SimulatorEngine, str]]:
    engine = SimulatorEngine(queue_delay_s=0.02, run_time_s=0.05)
    app = create_fake_runpod_app(
        engine, API_KEY, {ENDPOINT}, FaultPlan(), output_types={ENDPOINT: OutputType.TEXT}
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield engine, str(server.make_url(""))
    finally:
        await server.close()


async def serve(database_url: str, runpod_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """The service on its own port (its links name it: PUBLIC_BASE_URL), on PostgreSQL
    and the RunPod fake."""
    port = unused_port()
    settings = make_settings(
        database_url=database_url,
        gpu_provider="runpod",
        runpod_base_url=runpod_url,
        runpod_api_key=API_KEY,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        public_base_url=f"http://127.0.0.1:{port}",
        max_upload_bytes=LIMIT,
        **overrides,
    )
    client = TestClient(TestServer(create_app(build_container(settings)), port=port))
    await client.start_server()
    try:
        yield Api(client, tokens())
    finally:
        await client.close()


@pytest.fixture
async def fs_api(
    database_url: str, runpod: tuple[SimulatorEngine, str], tmp_path: Path
) -> AsyncIterator[Api]:
    root = str(tmp_path / "files")
    async for api in serve(
        database_url, runpod[1], blob_store="filesystem", blob_filesystem_root=root
    ):
        yield api


@pytest.fixture
async def s3_api(
    database_url: str, runpod: tuple[SimulatorEngine, str], moto_url: str
) -> AsyncIterator[Api]:
    overrides = {
        "blob_store": "s3",
        "blob_s3_bucket": BUCKET,
        "blob_s3_endpoint_url": moto_url,
        "blob_s3_region": "us-east-1",
        "blob_s3_access_key_id": "testing",
        "blob_s3_secret_access_key": "testing",
    }
    async for api in serve(database_url, runpod[1], **overrides):
        blobs = await _store(api)
        with contextlib.suppress(Exception):  # made by an earlier test of the session
            await blobs._client.create_bucket(Bucket=BUCKET)
        yield api


async def _store(api: Api) -> Any:
    from entrypoints.http.routing import SERVICES

    return api.client.app[SERVICES].blobs  # type: ignore[index]


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.read()


async def run_until_done(api: Api, slug: str, inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/marketplace/models/{slug}/run?wait=10"
    reply = await api.call("POST", path, "consumer_a", {"inputs": inputs})
    assert reply.status in (200, 202), reply.text
    execution: dict[str, Any] = reply.data
    for _ in range(200):
        if execution["status"] in ("COMPLETED", "FAILED", "TIMED_OUT"):
            return execution
        execution = await api.ok("GET", f"/api/consumer/executions/{execution['id']}", "consumer_a")
    raise AssertionError(execution)


async def check_runs_reach_the_worker(api: Api, engine: SimulatorEngine) -> None:
    slug = await seed_stt(api, endpoint_body(ENDPOINT))
    status, body = await upload(api, "consumer_a", form(WAV))
    assert status == 201, body
    data = body["data"]
    assert data["sha256"] == hashlib.sha256(WAV).hexdigest()
    for named in (data["url"], data["reference"]):
        execution = await run_until_done(api, slug, {"audio": named})
        assert execution["status"] == "COMPLETED", execution
        assert execution["input"]["audio"] == data["reference"]
        sent = engine.inputs()[-1]["audio"]
        assert sent.startswith("http") and sent != named
        assert await fetch(sent) == (200, WAV)
    # Another consumer's file, in either form: refused, nothing stored.
    _, theirs = await upload(api, "consumer_b", form(WAV, "b.wav"))
    for named in (theirs["data"]["url"], theirs["data"]["reference"]):
        reply = await api.call(
            "POST",
            f"/api/marketplace/models/{slug}/run",
            "consumer_a",
            {"inputs": {"audio": named}},
        )
        assert (reply.status, reply.code) == (422, "ERR_2005")
        assert reply.body["error"]["details"][0]["field"] == "audio"
    assert len(await api.ok("GET", "/api/consumer/executions", "consumer_a")) == 2
    # Deleted: its link stops working.
    await api.ok("DELETE", f"/api/consumer/files/{data['id']}", "consumer_a")
    assert (await fetch(engine.inputs()[-1]["audio"]))[0] in (403, 404)


async def test_filesystem_store_upload_run_and_worker_reads_the_bytes(
    fs_api: Api, runpod: tuple[SimulatorEngine, str]
) -> None:
    await check_runs_reach_the_worker(fs_api, runpod[0])


async def test_over_the_limit_is_413_and_nothing_is_stored(
    fs_api: Api, runpod: tuple[SimulatorEngine, str], tmp_path: Path
) -> None:
    await seed_stt(fs_api, endpoint_body(ENDPOINT))
    status, body = await upload(fs_api, "consumer_a", form(WAV[:44] + bytes(LIMIT)))
    assert (status, body["error"]["code"]) == (413, "ERR_4130")
    assert await fs_api.ok("GET", "/api/consumer/files", "consumer_a") == []
    blobs = tmp_path / "files" / "blobs"
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []


async def test_s3_store_upload_run_and_worker_reads_the_bytes(
    s3_api: Api, runpod: tuple[SimulatorEngine, str]
) -> None:
    await check_runs_reach_the_worker(s3_api, runpod[0])


async def test_s3_direct_upload_is_usable_once_the_bytes_are_there(
    s3_api: Api, runpod: tuple[SimulatorEngine, str]
) -> None:
    slug = await seed_stt(s3_api, endpoint_body(ENDPOINT))
    started = await s3_api.ok(
        "POST",
        "/api/consumer/files/uploads",
        "consumer_a",
        {"name": "direct.wav", "contentType": "audio/wav", "size": len(WAV)},
        201,
    )
    reference = started["file"]["reference"]
    assert started["file"]["ready"] is False
    early = await s3_api.call(
        "POST",
        f"/api/marketplace/models/{slug}/run",
        "consumer_a",
        {"inputs": {"audio": reference}},
    )
    assert (early.status, early.code) == (422, "ERR_2005")
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Type": "audio/wav"}
        async with session.put(started["uploadUrl"], data=WAV, headers=headers) as answer:
            assert answer.status == 200
    execution = await run_until_done(s3_api, slug, {"audio": reference})
    assert execution["status"] == "COMPLETED", execution
    assert await fetch(runpod[0].inputs()[-1]["audio"]) == (200, WAV)
    listed = await s3_api.ok("GET", "/api/consumer/files", "consumer_a")
    assert (listed[0]["ready"], listed[0]["size"]) == (True, len(WAV))
