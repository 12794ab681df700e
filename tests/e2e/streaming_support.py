"""What the streaming end-to-end tests share: the fake RunPod API in its generator-handler
mode on loopback, the service's settings against it, and a published streaming model."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp.test_utils import TestServer

from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from entrypoints.config import Settings
from tarsify.domain.models import OutputType

from .conftest import make_settings
from .support import Api, base_model_body, endpoint_body


@contextlib.asynccontextmanager
async def streaming_runpod(
    api_key: str,
    endpoint: str,
    output_type: OutputType,
    run_s: float,
    faults: FaultPlan | None = None,
) -> AsyncIterator[str]:
    """The fake RunPod API whose ``endpoint``'s worker is a generator handler; its URL."""
    app = create_fake_runpod_app(
        SimulatorEngine(queue_delay_s=0.05, run_time_s=run_s),
        api_key,
        {endpoint},
        faults or FaultPlan(),
        output_types={endpoint: output_type},
        streaming={endpoint},
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


def streaming_settings(url: str, runpod_url: str, api_key: str, **extra: Any) -> Settings:
    """One service process on the database ``url`` and the fake: its own pool, feed and
    reconciler (every 50 ms)."""
    return make_settings(
        database_url=url,
        db_pool_size=4,
        gpu_provider="runpod",
        runpod_base_url=runpod_url,
        runpod_api_key=api_key,
        reconciler_enabled=True,
        reconciler_interval=0.05,
        status_poll_min_interval=0.05,
        events_heartbeat_seconds=60,
        **extra,
    )


async def publish_streaming(
    api: Api, endpoint: str, title: str, schema: dict[str, Any], **base: Any
) -> tuple[dict[str, Any], str]:
    """A streaming base model (``base``: its slug, category and output) on the fake's
    ``endpoint``, and a developer's published Tars model of it, ``title``; the consumer
    registered. Returns the base model and the Tars model's slug."""
    made = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body(endpoint), 201)
    body = base_model_body(made["id"], inputSchema=schema, streaming=True, **base)
    base_model: dict[str, Any] = await api.ok("POST", "/api/admin/base-models", "admin", body, 201)
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base_model["id"], "title": title},
        201,
    )
    await api.ok(
        "PATCH", f"/api/developer/tars-models/{model['id']}", "developer_x", {"status": "PUBLISHED"}
    )
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", {}, 201)
    return base_model, str(model["slug"])
