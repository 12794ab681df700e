"""The scriptable FakeGpuProvider used by service tests."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.gpu import FakeGpuProvider, FakeJob
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import GpuProvider, JobRequest

REQUEST = JobRequest("ep", {"prompt": "x"}, execution_timeout_ms=1000, ttl_ms=5000)


async def test_records_jobs_and_reports_scripted_status() -> None:
    fake = FakeGpuProvider()
    provider: GpuProvider = fake
    job = await provider.submit(REQUEST)
    assert job.status == "IN_QUEUE" and fake.submitted == [REQUEST]
    fake.set_status(job.job_id, "COMPLETED", output={"ok": True}, execution_time_ms=12)
    done = await provider.status("ep", job.job_id)
    assert (done.status, done.output, done.execution_time_ms) == ("COMPLETED", {"ok": True}, 12)
    assert fake.calls == {"submit": 1, "status": 1}


async def test_cancel_changes_only_unfinished_jobs() -> None:
    fake = FakeGpuProvider()
    first, second = await fake.submit(REQUEST), await fake.submit(REQUEST)
    fake.set_status(second.job_id, "FAILED", error="boom")
    assert (await fake.cancel("ep", first.job_id)).status == "CANCELLED"
    assert (await fake.cancel("ep", second.job_id)).status == "FAILED"


async def test_unknown_or_forgotten_jobs_are_not_found() -> None:
    fake = FakeGpuProvider()
    job = await fake.submit(REQUEST)
    with pytest.raises(ProviderJobNotFound):
        await fake.status("other-endpoint", job.job_id)
    fake.forget(job.job_id)
    with pytest.raises(ProviderJobNotFound):
        await fake.cancel("ep", job.job_id)


async def test_fail_next_raises_then_recovers() -> None:
    fake = FakeGpuProvider()
    fake.fail_next("submit", GpuProviderError("down", outcome=ProviderOutcome.NOT_SENT), times=2)
    for _ in range(2):
        with pytest.raises(GpuProviderError):
            await fake.submit(REQUEST)
    assert (await fake.submit(REQUEST)).status == "IN_QUEUE"
    assert fake.calls["submit"] == 3 and len(fake.jobs) == 1
    with pytest.raises(ValueError):
        fake.fail_next("nope", GpuProviderError())


async def test_on_submit_scripts_submit_and_wait() -> None:
    fake = FakeGpuProvider()

    def finish(job: FakeJob) -> None:
        job.status, job.output = "COMPLETED", {"text": "hi"}

    fake.on_submit = finish
    assert (await fake.submit_and_wait(REQUEST, 1000)).output == {"text": "hi"}


async def test_latency_exposes_concurrent_calls() -> None:
    fake = FakeGpuProvider(latency_s=0.02)
    job = await fake.submit(REQUEST)
    await asyncio.gather(*(fake.status("ep", job.job_id) for _ in range(3)))
    assert fake.max_in_flight["status"] == 3 and fake.in_flight["status"] == 0
