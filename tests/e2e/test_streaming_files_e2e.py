"""Streamed image previews and progress end to end: PostgreSQL, the fake RunPod API over
HTTP in its generator-handler mode, a diffusion model whose worker yields previews (data
URIs, or the fake's expiring URLs) and reports its progress while it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from yarl import URL

from adapters.blobs.memory import MemoryBlobStore
from adapters.providers.simulator.media import png_bytes
from adapters.sql.engine import create_engine
from entrypoints.container import build_container, resolve
from entrypoints.http.app import create_app
from tarsify.domain.models import OutputType

from .conftest import ClientFactory
from .streaming_support import publish_streaming, streaming_runpod, streaming_settings
from .support import Api, tokens
from .test_streaming_e2e import Seen, assert_ids_increase, events_path, next_event

pytestmark = pytest.mark.postgres

API_KEY = "rpa_PREVIEW" + uuid.uuid4().hex.upper()
ENDPOINT = "diffusion-previews-e2e-q7x2"
CHUNKS = 6
RUN_S = 2.0
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "simulate_stream": {"type": "integer", "minimum": 1},
        "simulate_aggregate": {"type": "boolean"},
        "simulate_previews": {"type": "string", "enum": ["data", "url"]},
        "simulate_progress": {"type": "boolean"},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}


@pytest.fixture
async def fake_runpod() -> AsyncIterator[str]:
    """The fake RunPod API whose endpoint's worker yields image previews."""
    async with streaming_runpod(API_KEY, ENDPOINT, OutputType.IMAGE, RUN_S) as url:
        yield url


async def service(
    url: str, runpod_url: str, aiohttp_client: ClientFactory
) -> tuple[Api, MemoryBlobStore]:
    # The fake serves its files on loopback.
    settings = streaming_settings(url, runpod_url, API_KEY, output_download_allow_private=True)
    container = build_container(settings)
    blobs = await resolve(container.blob_store)
    assert isinstance(blobs, MemoryBlobStore)
    return Api(await aiohttp_client(create_app(container)), tokens()), blobs


async def publish(api: Api) -> str:
    _, slug = await publish_streaming(
        api,
        ENDPOINT,
        "Preview Diffusion",
        SCHEMA,
        slug="preview-diffusion",
        category="IMAGE",
        outputType="IMAGE",
        outputFormat="png",
    )
    return slug


async def watch(api: Api, slug: str, previews: str, progress: bool = False) -> tuple[str, Seen]:
    inputs = {
        "prompt": "a harbour at night",
        "simulate_stream": CHUNKS,
        "simulate_aggregate": False,
        "simulate_previews": previews,
        "simulate_progress": progress,
    }
    path = f"/api/marketplace/models/{slug}/run"
    started = await api.ok("POST", path, "consumer_a", {"inputs": inputs}, 202)
    execution_id = str(started["id"])
    seen = Seen()
    sent = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    async with api.client.get(events_path(execution_id), headers=sent) as response:
        assert response.status == 200
        while (event := await next_event(response)) is not None:
            seen.events.append(event)
    return execution_id, seen


async def read_link(api: Api, link: str, execution_id: str) -> bytes:
    """The bytes behind one of our signed links (never a provider's)."""
    url = URL(link)
    assert url.host == "tarsify.test" and url.query["sig"]
    assert url.path.startswith(f"/files/executions/{execution_id}/chunks/")
    response = await api.client.get(url.path_qs)
    assert response.status == 200 and response.content_type == "image/png"
    return await response.read()


@pytest.mark.parametrize("previews", ["data", "url"])
async def test_image_previews_reach_the_stream_as_our_signed_links(
    database_url: str, fake_runpod: str, aiohttp_client: ClientFactory, previews: str
) -> None:
    api, blobs = await service(database_url, fake_runpod, aiohttp_client)
    execution_id, seen = await watch(api, await publish(api), previews)
    assert seen.statuses[-1] == "COMPLETED"
    assert_ids_increase(seen.events)
    assert [o["index"] for o in seen.outputs] == list(range(CHUNKS))
    for i, chunk in enumerate(seen.outputs):
        assert await read_link(api, chunk["image"], execution_id) == png_bytes(i + 1)
    final = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
    assert [c["index"] for c in final["output"]] == list(range(CHUNKS))
    for i, chunk in enumerate(final["output"]):
        assert await read_link(api, chunk["image"], execution_id) == png_bytes(i + 1)
    # Stored: references only, no inline data, no provider URL, in chunks or output.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                text(
                    "SELECT string_agg(CAST(value AS TEXT), ' ') FROM stream_chunks"
                    " WHERE execution_id = CAST(:id AS uuid)"
                ),
                {"id": execution_id},
            )
            output = await connection.scalar(
                text(
                    "SELECT CAST(output_payload AS TEXT) FROM executions"
                    " WHERE id = CAST(:id AS uuid)"
                ),
                {"id": execution_id},
            )
            recorded = await connection.scalar(
                text("SELECT count(*) FROM execution_files WHERE execution_id = CAST(:id AS uuid)"),
                {"id": execution_id},
            )
    finally:
        await engine.dispose()
    for text_value in (stored, output):
        assert "$file" in text_value
        assert "base64" not in text_value and "_files" not in text_value
    assert recorded == CHUNKS
    assert len([k for k in blobs.files if k.startswith(f"executions/{execution_id}/")]) == CHUNKS


async def test_a_streaming_jobs_progress_reaches_the_stream_and_the_execution(
    database_url: str, fake_runpod: str, aiohttp_client: ClientFactory
) -> None:
    api, _ = await service(database_url, fake_runpod, aiohttp_client)
    execution_id, seen = await watch(api, await publish(api), "data", progress=True)
    # In the order they came: a progress event, or the progress a status event carries.
    reports = [
        e.data if e.name == "progress" else e.data["progress"]
        for e in seen.events
        if e.name in ("progress", "status")
    ]
    percents = [r["percent"] for r in reports if r is not None]
    assert any(0 < p < 100 for p in percents), seen.events
    assert percents == sorted(percents)
    assert len(seen.outputs) == CHUNKS and seen.statuses[-1] == "COMPLETED"
    final = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
    assert final["progress"] is not None
