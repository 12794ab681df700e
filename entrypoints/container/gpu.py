"""GPU provider wiring: the RunPod client (the simulator needs no resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.providers.runpod.client import RunPodClient
from entrypoints.config import Settings


async def open_runpod_client(settings: Settings) -> AsyncIterator[RunPodClient | None]:
    """One long-lived RunPod client (one connection pool), closed on shutdown."""
    if settings.gpu.provider != "runpod" or settings.gpu.runpod_api_key is None:
        yield None
        return
    client = RunPodClient(
        settings.gpu.runpod_api_key.get_secret_value(), base_url=settings.gpu.runpod_base_url
    )
    try:
        yield client
    finally:
        await client.close()
