"""FalGpuProvider's held streams (fal.run) against the fake over loopback: job ids,
chunks and result, failures, cancel, holders, the unread bound, news, the router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from adapters.providers.fal.held import holder_of
from adapters.providers.fal.provider import FalGpuProvider
from adapters.providers.routing import RoutingGpuProvider
from tarsify.domain.catalog import Provider
from tarsify.domain.errors import ProviderJobNotFound
from tarsify.ports.provider import HeldStreamProvider, JobReport, JobRequest
from tests.unit.fal_stream_rig import LLM, StreamRig, eventually, start_rig, streaming

WORDS = ["Once ", "upon ", "a ", "time ", "a ", "small "]


@pytest.fixture
async def rig() -> AsyncIterator[StreamRig]:
    made = await start_rig()
    yield made
    await made.close()


async def _ended(provider: FalGpuProvider, job_id: str, model: str = LLM) -> JobReport:
    """Read chunks until the job ends; its final ``stream`` report, chunks gathered."""
    chunks: list[Any] = []
    while True:
        report = await provider.stream(model, job_id)
        chunks += report.chunks
        if report.is_final:
            return JobReport(job_id, report.status, error=report.error, chunks=tuple(chunks))
        await asyncio.sleep(0.01)


async def test_a_held_stream_yields_each_chunk_once_then_its_result(rig: StreamRig) -> None:
    provider = rig.provider()
    report = await provider.submit(streaming(simulate_stream=6))
    owner, app, held, holder, request_id = report.job_id.split("/")
    assert (owner, app, held, holder) == ("fal-ai", "any-llm", "held", provider.holder)
    assert request_id == rig.streams.served[0].request_id
    assert holder_of(report.job_id) == provider.holder
    assert report.status == "IN_QUEUE" and provider.holds(LLM, report.job_id)
    assert (await provider.status(LLM, report.job_id)).status == "IN_QUEUE"
    gathered: list[Any] = []
    rig.clock.advance(2.0)  # queued 1 s, then half the run: 3 words
    await eventually(lambda: len(rig.streams.served[0].events) >= 3, "three events")
    while len(gathered) < 2:  # the third event is held back until another follows
        gathered += (await provider.stream(LLM, report.job_id)).chunks
        await asyncio.sleep(0.01)
    assert (await provider.status(LLM, report.job_id)).status == "IN_PROGRESS"
    rig.clock.advance(5)
    final = await _ended(provider, report.job_id)
    gathered += final.chunks
    assert gathered == [{"delta": w} for w in WORDS]
    assert final.status == "COMPLETED"
    done = await provider.status(LLM, report.job_id)
    assert done.output == {"output": "Once upon a time a small", "simulated": True}
    assert done.execution_time_ms is not None and done.output not in gathered
    assert (await provider.stream(LLM, report.job_id)).chunks == ()


async def test_submit_and_wait_of_a_stream_answers_once_it_is_open(rig: StreamRig) -> None:
    """Its chunks are read as they come: nothing waits for the end with them unread."""
    provider = rig.provider()
    report = await provider.submit_and_wait(streaming(simulate_stream=2), 10_000)
    assert not report.is_final and provider.holds(LLM, report.job_id)
    rig.clock.advance(10)
    final = await _ended(provider, report.job_id)
    assert final.chunks == ({"delta": "Once "}, {"delta": "upon "})


async def test_a_break_fails_the_job_and_keeps_its_partial_outputs(rig: StreamRig) -> None:
    rig.plan.stream_break_after = 2
    provider = rig.provider()
    report = await provider.submit(streaming(simulate_stream=6))
    rig.clock.advance(10)
    final = await _ended(provider, report.job_id)
    assert final.status == "FAILED" and final.error == "the stream broke off"
    assert final.chunks == ({"delta": "Once "}, {"delta": "upon "})
    assert (await provider.status(LLM, report.job_id)).output is None


async def test_an_app_error_event_fails_the_job(rig: StreamRig) -> None:
    provider = rig.provider()
    report = await provider.submit(streaming(simulate="fail"))
    rig.clock.advance(10)
    final = await _ended(provider, report.job_id)
    assert final.status == "FAILED" and final.error
    assert "Traceback" not in final.error


async def test_a_stream_without_events_for_idle_s_fails(rig: StreamRig) -> None:
    provider = rig.provider(idle_s=0.2)
    report = await provider.submit(streaming(simulate="hang"))
    final = await _ended(provider, report.job_id)
    assert final.status == "FAILED" and "no event" in (final.error or "")
    await eventually(lambda: rig.streams.served[0].disconnected, "the disconnect")


async def test_cancel_closes_the_connection(rig: StreamRig) -> None:
    provider = rig.provider()
    report = await provider.submit(streaming(simulate_stream=6))
    cancelled = await provider.cancel(LLM, report.job_id)
    assert cancelled.status == "CANCELLED"
    await eventually(lambda: rig.streams.served[0].disconnected, "the disconnect")
    assert (await provider.status(LLM, report.job_id)).status == "CANCELLED"


async def test_cancel_keeps_the_outcome_of_an_ended_stream(rig: StreamRig) -> None:
    provider = rig.provider()
    report = await provider.submit(streaming(simulate_stream=1))
    rig.clock.advance(10)
    await _ended(provider, report.job_id)
    assert (await provider.cancel(LLM, report.job_id)).status == "COMPLETED"


async def test_another_holder_does_not_know_the_job(rig: StreamRig) -> None:
    mine, other = rig.provider(), rig.provider()
    assert mine.holder != other.holder
    report = await mine.submit(streaming())
    assert mine.holds(LLM, report.job_id) and not other.holds(LLM, report.job_id)
    assert not mine.holds("fal-ai/other-app", report.job_id)
    for call in (other.stream, other.status, other.cancel):
        with pytest.raises(ProviderJobNotFound):
            await call(LLM, report.job_id)
    assert not rig.streams.served[0].disconnected


async def test_a_queue_job_is_not_held_and_streams_its_status(rig: StreamRig) -> None:
    provider = rig.provider()
    queued = await provider.submit(JobRequest(LLM, {"prompt": "x"}, 60_000, 60_000))
    assert not provider.holds(LLM, queued.job_id)
    report = await provider.stream(LLM, queued.job_id)
    assert (report.status, report.chunks) == ("IN_QUEUE", ())
    assert rig.plan.calls("submit") == 1 and rig.plan.calls("stream") == 0


async def test_too_many_unread_chunks_fail_the_job(rig: StreamRig) -> None:
    provider = rig.provider(max_unread=3)
    report = await provider.submit(streaming(simulate_stream=20))
    rig.clock.advance(10)
    job = await eventually(lambda: provider._held._jobs[report.job_id].ended.is_set(), "the end")
    assert job
    status = await provider.status(LLM, report.job_id)
    assert status.status == "FAILED" and "unread" in (status.error or "")
    assert len((await provider.stream(LLM, report.job_id)).chunks) == 4


async def test_news_announces_chunks_the_end_and_heartbeats(rig: StreamRig) -> None:
    provider = rig.provider(heartbeat_s=0.1)
    seen: list[tuple[str, str]] = []

    async def listen() -> None:
        async for item in provider.news():
            seen.append(item)

    listener = asyncio.create_task(listen())
    try:
        report = await provider.submit(streaming(simulate_stream=2))
        key = (LLM, report.job_id)
        rig.clock.advance(10)
        job = provider._held._jobs[report.job_id]
        await eventually(lambda: job.ended.is_set() and key in seen, "the end's news")
        seen.clear()
        await eventually(lambda: seen.count(key) >= 2, "two heartbeats")
    finally:
        listener.cancel()


async def test_news_come_without_a_heartbeat_when_a_job_gets_events(rig: StreamRig) -> None:
    provider = rig.provider(heartbeat_s=3600)
    seen: list[tuple[str, str]] = []

    async def listen() -> None:
        async for item in provider.news():
            seen.append(item)

    listener = asyncio.create_task(listen())
    try:
        report = await provider.submit(streaming(simulate_stream=4))
        rig.clock.advance(2)
        await eventually(lambda: (LLM, report.job_id) in seen, "news of the events")
    finally:
        listener.cancel()


async def test_close_drops_every_held_stream(rig: StreamRig) -> None:
    provider = rig.provider()
    report = await provider.submit(streaming())
    await provider.close()
    await eventually(lambda: rig.streams.served[0].disconnected, "the disconnect")
    assert not provider.holds(LLM, report.job_id)


async def test_the_router_and_the_metrics_pass_held_streams_through(rig: StreamRig) -> None:
    provider = rig.provider(heartbeat_s=0.05)
    router = RoutingGpuProvider({Provider.FAL: provider})
    metered = MeteredGpuProvider(router, Metrics())
    assert isinstance(router, HeldStreamProvider) and isinstance(metered, HeldStreamProvider)
    target = f"fal:{LLM}"
    report = await metered.submit(streaming(target, simulate_stream=2))
    assert router.holds(target, report.job_id) and metered.holds(target, report.job_id)
    assert not router.holds("some-runpod-endpoint", report.job_id)
    seen: list[tuple[str, str]] = []

    async def listen() -> None:
        async for item in metered.news():
            seen.append(item)

    listener = asyncio.create_task(listen())
    try:
        await eventually(lambda: (target, report.job_id) in seen, "the router's news")
    finally:
        listener.cancel()
    rig.clock.advance(10)
    chunks: list[Any] = []
    while not (read := await metered.stream(target, report.job_id)).is_final:
        chunks += read.chunks
        await asyncio.sleep(0.01)
    assert chunks + list(read.chunks) == [{"delta": "Once "}, {"delta": "upon "}]
    assert (await router.status(target, report.job_id)).output["output"] == "Once upon"


async def test_an_ended_job_is_forgotten_after_its_end_was_read_or_long_after(
    rig: StreamRig,
) -> None:
    provider = rig.provider()
    now = [1000.0]
    provider._held._now = lambda: now[0]
    provider._held._swept_at = 0.0
    read = await provider.submit(streaming(simulate_stream=1))
    unread = await provider.submit(streaming(simulate_stream=1))
    rig.clock.advance(10)
    for job_id in (read.job_id, unread.job_id):
        await eventually(lambda j=job_id: provider._held._jobs[j].ended.is_set(), "the end")
    assert (await provider.status(LLM, read.job_id)).status == "COMPLETED"
    now[0] += 30
    assert provider.holds(LLM, read.job_id)  # read, but ended only 30 s ago
    now[0] += 31
    assert not provider.holds(LLM, read.job_id) and provider.holds(LLM, unread.job_id)
    with pytest.raises(ProviderJobNotFound):
        await provider.status(LLM, read.job_id)
    now[0] += 600
    assert not provider.holds(LLM, unread.job_id)
