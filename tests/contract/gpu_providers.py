"""Every GpuProvider under test, each behind a ``Harness`` on one simulated world.

The world is a ``SimulatorEngine`` on a ``ManualClock``: job transitions happen exactly
when a test moves the clock (``Harness.advance``). ``HARNESSES`` lists them all; the
contract suite (``test_gpu_provider.py``) runs every test against each one. A new
provider adds one entry: a factory that puts its adapter in front of the engine, usually
over real HTTP to a fake of the provider's API (as ``runpod_http_harness`` does). What a
provider's wire cannot carry (queue times, an execution timeout, a job's ttl) its
``Harness`` says, and the tests that need it skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp.test_utils import TestServer

from adapters.memory.gpu import FakeGpuProvider, FakeJob
from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from adapters.providers.fal.client import FalClient
from adapters.providers.fal.provider import FalGpuProvider
from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from adapters.providers.simulator.engine import CANCELLED, JobView, ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_api import create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.provider import SimulatedGpuProvider
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from tarsify.domain.models import OutputType
from tarsify.ports.provider import GpuProvider, JobReport, JobRequest

KEY = "contract-test-key"
EP = "ep-json"
ENDPOINTS = {f"ep-{kind.lower()}": kind for kind in OutputType}
FAST: dict[str, Any] = {
    "timeout_s": 2.0,
    "retries_5xx": 2,
    "retry_delay_s": 0.01,
    "deadline_s": 5.0,
}


@dataclass
class Harness:
    """A provider under test plus the engine and clock behind it."""

    provider: GpuProvider
    engine: SimulatorEngine
    clock: ManualClock
    faults: FaultPlan | None = None
    server: TestServer | None = None
    # What a provider's wire carries; RunPod's carries all of it (fal's: fal_http_harness).
    reports_queue_time: bool = True
    takes_execution_timeout: bool = True
    takes_ttl: bool = True
    audio_key: str = "audio_base64"

    def request(self, endpoint: str = EP, **overrides: Any) -> JobRequest:
        fields: dict[str, Any] = {
            "endpoint_id": endpoint,
            "input": {"prompt": "a lighthouse"},
            "execution_timeout_ms": 60_000,
            "ttl_ms": 86_400_000,
            "output_type": ENDPOINTS.get(endpoint, OutputType.JSON),
        }
        return JobRequest(**{**fields, **overrides})

    async def submit(self, **overrides: Any) -> JobReport:
        return await self.provider.submit(self.request(**overrides))

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass in the provider's world."""
        self.clock.advance(seconds)


@dataclass
class ScriptedHarness(Harness):
    """A scripted fake (``FakeGpuProvider``) whose jobs follow the engine's.

    Each job the fake creates is also submitted to the engine; the harness then scripts
    the fake with the engine's view of it, through the fake's own knobs (``on_submit``,
    ``set_status``, ``forget``), and hands the fake's cancels to the engine. So the fake
    meets every situation the simulated providers meet, and must answer alike.
    """

    fake: FakeGpuProvider = field(default_factory=FakeGpuProvider)
    engine_ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fake.on_submit = self._mirror

    def advance(self, seconds: float) -> None:
        for job_id, engine_id in self.engine_ids.items():
            job = self.fake.jobs.get(job_id)
            if job is not None and job.status == CANCELLED:
                self.engine.cancel(job.endpoint_id, engine_id)  # at the cancel's time
        self.clock.advance(seconds)
        for job_id, engine_id in list(self.engine_ids.items()):
            job = self.fake.jobs.get(job_id)
            view = None if job is None else self.engine.get(job.endpoint_id, engine_id)
            if view is None:
                self.fake.forget(job_id)
                del self.engine_ids[job_id]
            else:
                self._script(job_id, view)

    def _mirror(self, job: FakeJob) -> None:
        request = job.request
        view = self.engine.submit(
            request.endpoint_id,
            request.input,
            output_type=request.output_type,
            execution_timeout_ms=request.execution_timeout_ms,
            ttl_ms=request.ttl_ms,
        )
        self.engine_ids[job.job_id] = view.id
        self._script(job.job_id, view)

    def _script(self, job_id: str, view: JobView) -> None:
        self.fake.set_status(
            job_id,
            view.status,
            output=view.output,
            error=view.failure.message if view.failure else None,
            delay_time_ms=view.delay_time_ms,
            execution_time_ms=view.execution_time_ms,
        )


def new_engine() -> tuple[SimulatorEngine, ManualClock]:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, retention_s=1800, now=clock)
    return engine, clock


@asynccontextmanager
async def simulator_harness() -> AsyncIterator[Harness]:
    """SimulatedGpuProvider -> engine, in-process."""
    engine, clock = new_engine()
    yield Harness(SimulatedGpuProvider(engine, known_endpoints=ENDPOINTS), engine, clock)


@asynccontextmanager
async def metered_simulator_harness() -> AsyncIterator[Harness]:
    """The simulator behind ``MeteredGpuProvider``, which must change nothing."""
    async with simulator_harness() as harness:
        harness.provider = MeteredGpuProvider(harness.provider, Metrics())
        yield harness


@asynccontextmanager
async def runpod_http_harness(api_key: str = KEY, **client_options: Any) -> AsyncIterator[Harness]:
    """RunPodGpuProvider -> real HTTP on loopback -> fake RunPod API -> engine."""
    engine, clock = new_engine()
    faults = FaultPlan()
    app = create_fake_runpod_app(engine, KEY, set(ENDPOINTS), faults, output_types=ENDPOINTS)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = RunPodClient(api_key, str(server.make_url("")), **{**FAST, **client_options})
    try:
        yield Harness(RunPodGpuProvider(client), engine, clock, faults, server)
    finally:
        await client.close()
        await server.close()


def fal_model(endpoint: str) -> str:
    """The suite's endpoint names as fal model ids (owner, app and a sub-path)."""
    return f"sim/{endpoint}/dev"


class FalModels:
    """FalGpuProvider under the suite's endpoint names: ``ep-json`` is ``sim/ep-json/dev``."""

    def __init__(self, provider: FalGpuProvider) -> None:
        self.provider = provider

    async def submit(self, request: JobRequest) -> JobReport:
        return await self.provider.submit(
            replace(request, endpoint_id=fal_model(request.endpoint_id))
        )

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        moved = replace(request, endpoint_id=fal_model(request.endpoint_id))
        return await self.provider.submit_and_wait(moved, wait_ms)

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        return await self.provider.status(fal_model(endpoint_id), job_id)

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        return await self.provider.cancel(fal_model(endpoint_id), job_id)


@asynccontextmanager
async def fal_http_harness(
    api_key: str = KEY, **client_options: Any
) -> AsyncIterator[tuple[Harness, FalFaultPlan]]:
    """FalGpuProvider -> real HTTP on loopback -> fake fal queue -> engine; with its faults.

    fal's wire reports no queue time, has no per-request execution timeout (an app's own
    timeout caps its runs) and no cap on a request's whole life (``ttl_ms`` is sent as
    fal's time-to-start deadline), and audio models answer ``{"audio": {"url": ...}}``.
    fal's own faults and behaviours: ``test_fal_provider.py``.
    """
    engine, clock = new_engine()
    faults = FalFaultPlan()
    types = {fal_model(name): kind for name, kind in ENDPOINTS.items()}
    app = create_fake_fal_app(engine, KEY, set(types), faults, output_types=types)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = FalClient(api_key, str(server.make_url("")).rstrip("/"), **{**FAST, **client_options})
    provider = FalModels(FalGpuProvider(client, poll_interval_s=0.02))
    harness = Harness(
        provider,
        engine,
        clock,
        server=server,
        reports_queue_time=False,
        takes_execution_timeout=False,
        takes_ttl=False,
        audio_key="audio",
    )
    try:
        yield harness, faults
    finally:
        await client.close()
        await server.close()


@asynccontextmanager
async def fal_harness() -> AsyncIterator[Harness]:
    """``fal_http_harness`` as the contract suite opens it (its faults left aside)."""
    async with fal_http_harness() as (harness, _):
        yield harness


@asynccontextmanager
async def memory_fake_harness() -> AsyncIterator[Harness]:
    """``FakeGpuProvider`` (the services' unit tests use it), scripted from the engine."""
    engine, clock = new_engine()
    fake = FakeGpuProvider(known_endpoints=ENDPOINTS)
    yield ScriptedHarness(fake, engine, clock, fake=fake)


@dataclass(frozen=True)
class HarnessKind:
    """How to open one provider's harness, and what the provider chooses itself."""

    open: Callable[[], AbstractAsyncContextManager[Harness]]
    # Job ids end with the engine's (RunPod's, with their region suffix; fal's request
    # id ends its path); a scripted fake names its jobs itself.
    engine_ids: bool = True


# Every GpuProvider implementation, by test id: the contract suite runs against each.
HARNESSES: dict[str, HarnessKind] = {
    "simulator": HarnessKind(simulator_harness),
    "metered-simulator": HarnessKind(metered_simulator_harness),
    "runpod-http": HarnessKind(runpod_http_harness),
    "fal-http": HarnessKind(fal_harness),
    "memory-fake": HarnessKind(memory_fake_harness, engine_ids=False),
}
