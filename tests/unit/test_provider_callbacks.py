"""Provider announcements (callbacks): a hint to re-read the job, never trusted as is."""

from __future__ import annotations

import uuid

from adapters.memory.clock import ManualClock
from tarsify.domain.errors import GpuProviderError, ProviderOutcome
from tarsify.domain.models import ExecutionStatus, OutputType
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import JobRequest
from tests.unit.world import StaticCallbacks, make_world

IMAGE = {"images": ["data:image/png;base64,AAAA"]}


async def test_jobs_carry_the_callback_url_of_their_execution() -> None:
    w = await make_world(callbacks=StaticCallbacks())
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    [job] = w.gpu.submitted
    assert job.callback_url == f"https://tarsify.test/webhooks/{e.id}"


async def test_without_callbacks_jobs_have_none() -> None:
    w = await make_world()
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert w.gpu.submitted[0].callback_url is None


async def test_a_notice_reads_the_status_at_once_despite_the_poll_interval() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    await w.executions.get(w.alice.id, e.id)  # a consumer poll takes this interval's slot
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    calls = w.gpu.calls["status"]
    assert await w.executions.notify(e.id, e.provider_job_id)
    assert w.gpu.calls["status"] == calls + 1
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED and stored.output_payload == IMAGE


async def test_a_notice_resolves_an_ambiguous_submit() -> None:
    w = await make_world()
    w.gpu.fail_next("submit", GpuProviderError("read timeout", outcome=ProviderOutcome.UNKNOWN))
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert e.status is ExecutionStatus.PENDING and e.provider_job_id is None
    # The job did reach the provider; its callback names it.
    job = await w.gpu.submit(
        JobRequest("rp-endpoint-secret", {"prompt": "x"}, 60_000, 60_000, OutputType.IMAGE)
    )
    w.gpu.set_status(job.job_id, "COMPLETED", output=IMAGE)
    assert await w.executions.notify(e.id, job.job_id)
    stored = await w.stored(e.id)
    assert stored.provider_job_id == job.job_id
    assert stored.status is ExecutionStatus.COMPLETED and stored.output_payload == IMAGE


async def test_a_notice_naming_a_job_the_provider_does_not_know_changes_nothing() -> None:
    w = await make_world()
    w.gpu.fail_next("submit", GpuProviderError("read timeout", outcome=ProviderOutcome.UNKNOWN))
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert await w.executions.notify(e.id, "forged-job-id")
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.PENDING and stored.provider_job_id is None


async def test_a_notice_cannot_adopt_the_job_of_another_execution() -> None:
    """Bob's job, named on Alice's unconfirmed execution's callback, is refused: Alice
    must never see Bob's output."""
    w = await make_world()
    bobs = (
        await w.executions.run(RunRequest(w.bob.id, w.model.slug, {"prompt": "b"}))
    ).view.execution
    assert bobs.provider_job_id is not None
    w.gpu.set_status(bobs.provider_job_id, "COMPLETED", output=IMAGE)
    w.gpu.fail_next("submit", GpuProviderError("read timeout", outcome=ProviderOutcome.UNKNOWN))
    alices = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "a"}))
    ).view.execution
    assert alices.provider_job_id is None
    calls = w.gpu.calls["status"]
    assert await w.executions.notify(alices.id, bobs.provider_job_id)
    stored = await w.stored(alices.id)
    assert stored.status is ExecutionStatus.PENDING and stored.provider_job_id is None
    assert stored.output_payload is None
    assert w.gpu.calls["status"] == calls  # refused before the provider was asked
    # Its own job is still adopted afterwards.
    own = await w.gpu.submit(
        JobRequest("rp-endpoint-secret", {"prompt": "a"}, 60_000, 60_000, OutputType.IMAGE)
    )
    assert await w.executions.notify(alices.id, own.job_id)
    assert (await w.stored(alices.id)).provider_job_id == own.job_id


async def test_notices_for_unknown_or_finished_executions() -> None:
    w = await make_world()
    assert not await w.executions.notify(uuid.uuid4(), "job")
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    w.gpu.set_status(e.provider_job_id, "FAILED", error="boom")
    await w.executions.notify(e.id, e.provider_job_id)
    calls = w.gpu.calls["status"]
    assert await w.executions.notify(e.id, e.provider_job_id)
    assert w.gpu.calls["status"] == calls  # terminal: the provider is not asked again
    assert (await w.stored(e.id)).status is ExecutionStatus.FAILED
