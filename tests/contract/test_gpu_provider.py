"""One contract for the GpuProvider port, run against every implementation.

``simulator`` runs the engine in-process (``metered-simulator``: behind
``MeteredGpuProvider``, which must change nothing); ``runpod-http`` runs RunPodGpuProvider over
real HTTP against the fake RunPod API on loopback, where fault injection also applies.
Both share one ``ManualClock``, so job transitions happen exactly when a test says.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.media import JSON_PLACEHOLDER
from adapters.providers.simulator.provider import SimulatedGpuProvider
from adapters.providers.simulator.runpod_api import FaultPlan, create_fake_runpod_app
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
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


def new_engine() -> tuple[SimulatorEngine, ManualClock]:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, retention_s=1800, now=clock)
    return engine, clock


@asynccontextmanager
async def http_harness(api_key: str = KEY, **client_options: Any) -> AsyncIterator[Harness]:
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


@pytest.fixture(params=["simulator", "runpod-http", "metered-simulator"])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param in ("simulator", "metered-simulator"):
        engine, clock = new_engine()
        provider: GpuProvider = SimulatedGpuProvider(engine, known_endpoints=ENDPOINTS)
        if request.param == "metered-simulator":
            provider = MeteredGpuProvider(provider, Metrics())
        yield Harness(provider, engine, clock)
        return
    async with http_harness() as harness:
        yield harness


# --- every implementation --------------------------------------------------------------


async def test_submit_returns_a_queued_job_with_a_suffixed_id(h: Harness) -> None:
    job = await h.submit()
    assert job.status == "IN_QUEUE" and job.job_id.endswith("-u1")
    assert (await h.provider.status(EP, job.job_id)).status == "IN_QUEUE"


async def test_other_suffixes_survive_the_round_trip(h: Harness) -> None:
    h.engine.id_suffix = "-e1"
    job = await h.submit()
    assert job.job_id.endswith("-e1")
    assert (await h.provider.status(EP, job.job_id)).job_id == job.job_id


async def test_job_goes_from_queue_to_completion_with_ms_timings(h: Harness) -> None:
    job = await h.submit()
    h.clock.advance(1.5)
    running = await h.provider.status(EP, job.job_id)
    assert running.status == "IN_PROGRESS" and running.output is None
    assert running.delay_time_ms == 1000
    h.clock.advance(2.0)
    done = await h.provider.status(EP, job.job_id)
    assert done.status == "COMPLETED" and done.error is None
    assert (done.delay_time_ms, done.execution_time_ms) == (1000, 2000)
    assert done.output == {"result": JSON_PLACEHOLDER, "simulated": True}


@pytest.mark.parametrize("kind", [OutputType.IMAGE, OutputType.AUDIO, OutputType.TEXT])
async def test_outputs_follow_the_output_type(h: Harness, kind: OutputType) -> None:
    job = await h.submit(endpoint=f"ep-{kind.lower()}")
    h.clock.advance(5)
    output = (await h.provider.status(f"ep-{kind.lower()}", job.job_id)).output
    assert output["simulated"] is True
    expected = {"IMAGE": "images", "AUDIO": "audio_base64", "TEXT": "text"}[kind]
    assert expected in output


async def test_failed_job_reports_the_message_without_traceback(h: Harness) -> None:
    job = await h.submit(input={"simulate": "fail"})
    h.clock.advance(5)
    failed = await h.provider.status(EP, job.job_id)
    assert failed.status == "FAILED" and failed.output is None
    assert failed.error == "Simulated failure requested by the input"
    assert failed.execution_time_ms == 2000


async def test_plain_text_errors_are_kept(h: Harness) -> None:
    job = await h.submit(input={"simulate": "fail_plain"})
    h.clock.advance(5)
    assert (await h.provider.status(EP, job.job_id)).error == "Simulated plain-text failure"


async def test_cancel_a_queued_or_running_job(h: Harness) -> None:
    queued, running = await h.submit(), None
    h.clock.advance(0.5)
    running = await h.submit(input={"simulate_queue_s": 0})
    h.clock.advance(0.1)
    for job in (queued, running):
        assert (await h.provider.cancel(EP, job.job_id)).status == "CANCELLED"
    h.clock.advance(10)
    assert (await h.provider.status(EP, queued.job_id)).status == "CANCELLED"
    assert (await h.provider.status(EP, running.job_id)).status == "CANCELLED"


async def test_cancel_a_finished_job_leaves_it_finished(h: Harness) -> None:
    job = await h.submit()
    h.clock.advance(5)
    after = await h.provider.cancel(EP, job.job_id)
    assert after.status == "COMPLETED" and after.output is not None


async def test_execution_timeout_gives_timed_out(h: Harness) -> None:
    job = await h.submit(input={"simulate": "hang"}, execution_timeout_ms=1500)
    h.clock.advance(1 + 1.5)
    timed_out = await h.provider.status(EP, job.job_id)
    assert timed_out.status == "TIMED_OUT" and timed_out.execution_time_ms == 1500


async def test_results_expire_after_retention(h: Harness) -> None:
    job = await h.submit()
    h.clock.advance(3 + 1800)
    with pytest.raises(ProviderJobNotFound):
        await h.provider.status(EP, job.job_id)


async def test_jobs_expire_after_their_ttl(h: Harness) -> None:
    job = await h.submit(ttl_ms=10_000, input={"simulate": "hang"}, execution_timeout_ms=60_000)
    h.clock.advance(10)
    with pytest.raises(ProviderJobNotFound):
        await h.provider.status(EP, job.job_id)


async def test_unknown_job_is_not_found(h: Harness) -> None:
    with pytest.raises(ProviderJobNotFound):
        await h.provider.status(EP, "no-such-job-u1")
    with pytest.raises(ProviderJobNotFound):
        await h.provider.cancel(EP, "no-such-job-u1")


async def test_unknown_endpoint_is_a_refusal(h: Harness) -> None:
    with pytest.raises(GpuProviderError) as info:
        await h.submit(endpoint="ep-missing")
    assert not isinstance(info.value, ProviderJobNotFound)
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 404)


async def test_submit_and_wait_returns_the_result_when_fast(h: Harness) -> None:
    job = await h.provider.submit_and_wait(
        h.request(input={"simulate_queue_s": 0, "simulate_run_s": 0}), 1000
    )
    assert job.status == "COMPLETED" and job.output["simulated"] is True


async def test_submit_and_wait_returns_non_terminal_when_the_wait_runs_out(h: Harness) -> None:
    job = await h.provider.submit_and_wait(h.request(), 50)
    assert job.status == "IN_QUEUE"
    h.clock.advance(5)
    assert (await h.provider.status(EP, job.job_id)).status == "COMPLETED"


# --- HTTP only: authentication and faults -----------------------------------------------


async def test_bad_api_key_is_a_refusal() -> None:
    async with http_harness(api_key="wrong-key") as hh:
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        with pytest.raises(GpuProviderError) as status_info:
            await hh.provider.status(EP, "any-u1")
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 401)
    assert not isinstance(status_info.value, ProviderJobNotFound)
    assert len(hh.engine) == 0


async def test_connection_refused_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RunPodClient(KEY, f"http://127.0.0.1:{port}", **FAST)
    with pytest.raises(GpuProviderError) as info:
        await RunPodGpuProvider(client).submit(JobRequest(EP, {}, 1000, 1000))
    await client.close()
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, None)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_burst_shorter_than_retries_recovers(status: int) -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.fail_next("status", 2, status=status)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert hh.faults.calls("run") == 1 and hh.faults.calls("status") == 3


async def test_a_5xx_on_submit_fails_at_once_as_not_sent() -> None:
    """A submit is never retried in the call (its caller sends it again later)."""
    async with http_harness() as hh:
        assert hh.faults is not None
        hh.faults.fail_next("run", 1, status=503)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 503)


async def test_429_with_retry_after_is_honoured() -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.throttle_next("status", 1, retry_after=0.3)
        started = time.monotonic()
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        elapsed = time.monotonic() - started
        assert hh.faults.calls("status") == 2
        assert 0.25 <= elapsed < 3
        assert [r.status for r in hh.faults.requests] == [200, 429, 200]


async def test_a_short_429_on_submit_fails_at_once_with_its_retry_after() -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("run", 1, retry_after=0.3)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 429)
    assert info.value.retry_after_s == 0.3


async def test_429_without_retry_after_backs_off_then_succeeds() -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("status", 3)
        job = await hh.submit()
        assert (await hh.provider.status(EP, job.job_id)).job_id == job.job_id
        assert hh.faults.calls("status") == 4


async def test_429_for_longer_than_the_deadline_is_not_sent() -> None:
    async with http_harness(deadline_s=0.5) as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.throttle_next("status", 100)
        with pytest.raises(GpuProviderError) as info:
            await hh.provider.status(EP, job.job_id)
        assert 2 <= hh.faults.calls("status") < 100
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 429)


async def test_long_retry_after_on_submit_fails_at_once_with_the_delay() -> None:
    async with http_harness(deadline_s=600) as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("run", 1, retry_after=120)
        started = time.monotonic()
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert time.monotonic() - started < 5  # the request is not held for the wait
        assert hh.faults.calls("run") == 1 and len(hh.engine) == 0
    assert info.value.outcome is ProviderOutcome.NOT_SENT
    assert (info.value.status_code, info.value.retry_after_s) == (429, 120.0)


async def test_slow_submit_beyond_the_timeout_is_ambiguous() -> None:
    async with http_harness(timeout_s=0.2) as hh:
        assert hh.faults is not None
        hh.faults.slow_next("run", 1, delay_s=0.6)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1  # a submit is never repeated after a timeout
        assert len(hh.engine) == 1  # ... because the job did reach the provider
        await asyncio.sleep(0.5)  # let the slow handler finish before the server closes
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.UNKNOWN, None)


async def test_slow_status_is_retried() -> None:
    async with http_harness(timeout_s=0.2) as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.slow_next("status", 1, delay_s=0.5)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert hh.faults.calls("status") == 2
        await asyncio.sleep(0.4)


async def test_dropped_connection_on_status_is_retried() -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.drop_next("status", 1)
        hh.faults.drop_next("cancel", 1)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert (await hh.provider.cancel(EP, job.job_id)).status == "CANCELLED"
        assert hh.faults.calls("status") == 2 and hh.faults.calls("cancel") == 2


async def test_dropped_connection_on_submit_is_ambiguous_and_not_retried() -> None:
    async with http_harness() as hh:
        assert hh.faults is not None
        hh.faults.drop_next("run", 1)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1 and len(hh.engine) == 1
    assert info.value.outcome is ProviderOutcome.UNKNOWN


async def test_payload_over_10_mb_is_refused() -> None:
    async with http_harness() as hh:
        with pytest.raises(GpuProviderError) as info:
            await hh.submit(input={"blob": "x" * (10 * 1024 * 1024 + 1)})
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 413)
