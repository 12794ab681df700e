"""GPU provider wiring: one client per real provider with credentials (the simulator
needs no resource), and the routing provider over them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.providers.fal.client import FalClient
from adapters.providers.fal.provider import FalGpuProvider
from adapters.providers.routing import RoutingGpuProvider
from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.provider import SimulatedGpuProvider
from entrypoints.config import Settings
from tarsify.domain.catalog import Provider
from tarsify.ports.provider import GpuProvider


async def open_runpod_client(settings: Settings) -> AsyncIterator[RunPodClient | None]:
    """One long-lived RunPod client (one connection pool), closed on shutdown."""
    gpu = settings.gpu
    if gpu.simulated or Provider.RUNPOD not in gpu.configured_providers():
        yield None
        return
    assert gpu.runpod_api_key is not None
    client = RunPodClient(gpu.runpod_api_key.get_secret_value(), base_url=gpu.runpod_base_url)
    try:
        yield client
    finally:
        await client.close()


async def open_fal_client(settings: Settings) -> AsyncIterator[FalClient | None]:
    """One long-lived fal client when FAL_KEY is set, closed on shutdown."""
    gpu = settings.gpu
    if gpu.simulated or Provider.FAL not in gpu.configured_providers():
        yield None
        return
    assert gpu.fal_key is not None
    client = FalClient(
        gpu.fal_key.get_secret_value(), base_url=gpu.fal_queue_url, run_url=gpu.fal_run_url
    )
    try:
        yield client
    finally:
        await client.close()


async def open_fal_provider(client: FalClient | None) -> AsyncIterator[FalGpuProvider | None]:
    """The fal adapter over ``client``; its held streams are dropped on shutdown."""
    if client is None:
        yield None
        return
    provider = FalGpuProvider(client)
    try:
        yield provider
    finally:
        await provider.close()


def simulated_providers(engine: SimulatorEngine) -> RoutingGpuProvider:
    """Every provider answered by the simulator, over one engine: fal's with the runner's
    log lines and the place in the queue (as fal reports them), the others without."""
    plain = SimulatedGpuProvider(engine)
    fal = SimulatedGpuProvider(engine, fal_logs=True)
    return RoutingGpuProvider({p: fal if p is Provider.FAL else plain for p in Provider})


def real_providers(runpod: RunPodClient | None, fal: FalGpuProvider | None) -> RoutingGpuProvider:
    """Each real provider with credentials, by its adapter."""
    adapters: dict[Provider, GpuProvider] = {}
    if runpod is not None:
        adapters[Provider.RUNPOD] = RunPodGpuProvider(runpod)
    if fal is not None:
        adapters[Provider.FAL] = fal
    return RoutingGpuProvider(adapters)
