"""One contract for the GpuProvider port, run against every implementation.

The harnesses are listed in ``gpu_providers.HARNESSES`` (a new provider joins there):
the simulator in-process (also behind ``MeteredGpuProvider``, which must change
nothing), RunPodGpuProvider over real HTTP against the fake RunPod API, FalGpuProvider
over real HTTP against the fake fal queue, and the services' scripted
``FakeGpuProvider``. All stand before one engine on a ``ManualClock``, so job transitions
happen exactly when a test says. The providers' own faults over HTTP:
``test_runpod_http.py`` and ``test_fal_provider.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.providers.simulator.media import JSON_PLACEHOLDER
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.models import OutputType

from .gpu_providers import EP, HARNESSES, Harness


@pytest.fixture(params=list(HARNESSES))
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with HARNESSES[request.param].open() as harness:
        yield harness


@pytest.fixture(params=[name for name, kind in HARNESSES.items() if kind.engine_ids])
async def h_engine_ids(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The harnesses whose job ids end with the engine's (RunPod's, with a region suffix)."""
    async with HARNESSES[request.param].open() as harness:
        yield harness


# --- every implementation --------------------------------------------------------------


async def test_submit_returns_a_queued_job_that_status_knows(h: Harness) -> None:
    job = await h.submit()
    assert job.status == "IN_QUEUE" and job.job_id
    again = await h.provider.status(EP, job.job_id)
    assert (again.job_id, again.status) == (job.job_id, "IN_QUEUE")


async def test_job_ids_keep_their_suffix(h_engine_ids: Harness) -> None:
    h = h_engine_ids
    assert (await h.submit()).job_id.endswith("-u1")
    h.engine.id_suffix = "-e1"
    job = await h.submit()
    assert job.job_id.endswith("-e1")
    assert (await h.provider.status(EP, job.job_id)).job_id == job.job_id


async def test_job_goes_from_queue_to_completion_with_ms_timings(h: Harness) -> None:
    job = await h.submit()
    h.advance(1.5)
    running = await h.provider.status(EP, job.job_id)
    assert running.status == "IN_PROGRESS" and running.output is None
    queue_ms = 1000 if h.reports_queue_time else None
    assert running.delay_time_ms == queue_ms
    h.advance(2.0)
    done = await h.provider.status(EP, job.job_id)
    assert done.status == "COMPLETED" and done.error is None
    assert (done.delay_time_ms, done.execution_time_ms) == (queue_ms, 2000)
    assert done.output == {"result": JSON_PLACEHOLDER, "simulated": True}


@pytest.mark.parametrize("kind", [OutputType.IMAGE, OutputType.AUDIO, OutputType.TEXT])
async def test_outputs_follow_the_output_type(h: Harness, kind: OutputType) -> None:
    job = await h.submit(endpoint=f"ep-{kind.lower()}")
    h.advance(5)
    output = (await h.provider.status(f"ep-{kind.lower()}", job.job_id)).output
    assert output["simulated"] is True
    expected = {"IMAGE": "images", "AUDIO": h.audio_key, "TEXT": "text"}[kind]
    assert expected in output


async def test_failed_job_reports_the_message_without_traceback(h: Harness) -> None:
    job = await h.submit(input={"simulate": "fail"})
    h.advance(5)
    failed = await h.provider.status(EP, job.job_id)
    assert failed.status == "FAILED" and failed.output is None
    assert failed.error == "Simulated failure requested by the input"
    assert failed.execution_time_ms == 2000


async def test_plain_text_errors_are_kept(h: Harness) -> None:
    job = await h.submit(input={"simulate": "fail_plain"})
    h.advance(5)
    assert (await h.provider.status(EP, job.job_id)).error == "Simulated plain-text failure"


async def test_cancel_a_queued_or_running_job(h: Harness) -> None:
    queued, running = await h.submit(), None
    h.advance(0.5)
    running = await h.submit(input={"simulate_queue_s": 0})
    h.advance(0.1)
    for job in (queued, running):
        assert (await h.provider.cancel(EP, job.job_id)).status == "CANCELLED"
    h.advance(10)
    assert (await h.provider.status(EP, queued.job_id)).status == "CANCELLED"
    assert (await h.provider.status(EP, running.job_id)).status == "CANCELLED"


async def test_cancel_a_finished_job_leaves_it_finished(h: Harness) -> None:
    job = await h.submit()
    h.advance(5)
    after = await h.provider.cancel(EP, job.job_id)
    assert after.status == "COMPLETED" and after.output is not None


async def test_execution_timeout_gives_timed_out(h: Harness) -> None:
    if not h.takes_execution_timeout:
        pytest.skip("the provider's wire has no per-job execution timeout")
    job = await h.submit(input={"simulate": "hang"}, execution_timeout_ms=1500)
    h.advance(1 + 1.5)
    timed_out = await h.provider.status(EP, job.job_id)
    assert timed_out.status == "TIMED_OUT" and timed_out.execution_time_ms == 1500


async def test_results_expire_after_retention(h: Harness) -> None:
    job = await h.submit()
    h.advance(3 + 1800)
    with pytest.raises(ProviderJobNotFound):
        await h.provider.status(EP, job.job_id)


async def test_jobs_expire_after_their_ttl(h: Harness) -> None:
    if not h.takes_ttl:
        pytest.skip("the provider's wire has no cap on a job's whole life")
    job = await h.submit(ttl_ms=10_000, input={"simulate": "hang"}, execution_timeout_ms=60_000)
    h.advance(10)
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
    h.advance(5)
    assert (await h.provider.status(EP, job.job_id)).status == "COMPLETED"
