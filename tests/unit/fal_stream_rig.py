"""A fake fal server (queue and fal.run streams) on loopback, with the client and provider
in front of it, for the streaming tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer

from adapters.providers.fal.client import FalClient
from adapters.providers.fal.provider import FalGpuProvider
from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_api import create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_queue import QUEUE_KEY, FalQueue
from adapters.providers.simulator.fal_streams import STREAMS_KEY, FalStreams
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobRequest

KEY = "fal-stream-key-0123456789"
LLM = "fal-ai/any-llm"
FLUX = "fal-ai/flux/dev"
FAST: dict[str, Any] = {"timeout_s": 2.0, "retry_delay_s": 0.01, "deadline_s": 5.0}


@dataclass
class StreamRig:
    server: TestServer
    base: str
    client: FalClient
    queue: FalQueue
    streams: FalStreams
    plan: FalFaultPlan
    clock: ManualClock
    providers: list[FalGpuProvider]

    def provider(self, **options: Any) -> FalGpuProvider:
        made = FalGpuProvider(self.client, **options)
        self.providers.append(made)
        return made

    async def close(self) -> None:
        for provider in self.providers:
            await provider.close()
        await self.client.close()
        await self.server.close()


async def start_rig() -> StreamRig:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, id_suffix="", now=clock)
    plan = FalFaultPlan()
    types = {FLUX: OutputType.IMAGE, LLM: OutputType.TEXT}
    app = create_fake_fal_app(engine, KEY, faults=plan, output_types=types)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    client = FalClient(KEY, base, run_url=base, **FAST)
    return StreamRig(server, base, client, app[QUEUE_KEY], app[STREAMS_KEY], plan, clock, [])


def streaming(model: str = LLM, **input: Any) -> JobRequest:
    return JobRequest(
        endpoint_id=model,
        input={"prompt": "a story", **input},
        execution_timeout_ms=60_000,
        ttl_ms=60_000,
        streaming=True,
    )


async def eventually(check: Callable[[], Any], what: str = "the condition") -> Any:
    """Wait until ``check()`` is truthy (a safety net of 10 s, not a timing assertion)."""
    for _ in range(1000):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what} never happened")
