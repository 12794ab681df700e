"""Every GpuProvider under test, each behind a ``Harness`` on one simulated world.

The world is a ``SimulatorEngine`` on a ``ManualClock``: job transitions happen exactly
when a test moves the clock (``Harness.advance``). ``HARNESSES`` lists them all; the
contract suite (``test_gpu_provider.py``) runs every test against each one. A new
provider adds one entry: a factory that puts its adapter in front of the engine, usually
over real HTTP to a fake of the provider's API (as ``runpod_http_harness`` does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestServer

from adapters.memory.gpu import FakeGpuProvider, FakeJob
from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from adapters.providers.simulator.engine import CANCELLED, JobView, ManualClock, SimulatorEngine
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
    # Job ids are the engine's (RunPod's, with their region suffix); a scripted fake
    # names its jobs itself.
    engine_ids: bool = True


# Every GpuProvider implementation, by test id: the contract suite runs against each.
HARNESSES: dict[str, HarnessKind] = {
    "simulator": HarnessKind(simulator_harness),
    "metered-simulator": HarnessKind(metered_simulator_harness),
    "runpod-http": HarnessKind(runpod_http_harness),
    "memory-fake": HarnessKind(memory_fake_harness, engine_ids=False),
}
