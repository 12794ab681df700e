"""Status polling, cancel and the reconciler on fakes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.clock import SystemClock
from adapters.memory.clock import ManualClock
from tarsify.domain.errors import (
    ExecutionNotCancellable,
    ExecutionNotFound,
    GpuProviderError,
    StorageError,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tarsify.services.engine.settings import EngineSettings
from tests.unit.world import World, make_world

IMAGE = {"images": ["data:image/png;base64,AAAA"], "seed": 1}


async def start(w: World, consumer_id: uuid.UUID | None = None) -> Execution:
    result = await w.executions.run(
        RunRequest(consumer_id or w.alice.id, w.model.slug, {"prompt": "x"})
    )
    return result.view.execution


async def test_completed_output_and_timings_are_stored() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.set_status(
        e.provider_job_id, "COMPLETED", output=IMAGE, delay_time_ms=1200, execution_time_ms=3400
    )
    view = await w.executions.get(w.alice.id, e.id)
    done = view.execution
    assert done.status is ExecutionStatus.COMPLETED
    assert done.output_payload == IMAGE
    assert (done.queue_time_ms, done.execution_time_ms) == (1200, 3400)
    assert done.completed_at is not None and done.started_at is not None
    stored = await w.stored(e.id)
    assert stored.output_payload == IMAGE and stored.status is ExecutionStatus.COMPLETED


async def test_terminal_execution_is_served_without_asking_the_provider() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "FAILED", error="CUDA out of memory")
    failed = (await w.executions.get(w.alice.id, e.id)).execution
    assert failed.status is ExecutionStatus.FAILED and failed.error_message == "CUDA out of memory"
    calls = w.gpu.calls["status"]
    for _ in range(5):
        await w.executions.get(w.alice.id, e.id)
    assert w.gpu.calls["status"] == calls


async def test_polls_are_rate_limited_per_interval() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "IN_PROGRESS")
    for _ in range(10):
        assert (await w.executions.get(w.alice.id, e.id)).execution.status is (
            ExecutionStatus.RUNNING
        )
    assert w.gpu.calls["status"] == 1
    clock.advance(w.settings.poll_min_interval_s)
    await w.executions.get(w.alice.id, e.id)
    assert w.gpu.calls["status"] == 2


async def test_concurrent_status_requests_share_one_provider_call() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.latency["status"] = 0.05
    w.gpu.set_status(e.provider_job_id, "IN_PROGRESS")
    views = await asyncio.gather(*(w.executions.get(w.alice.id, e.id) for _ in range(50)))
    assert w.gpu.calls["status"] == 1
    assert w.gpu.max_in_flight["status"] == 1
    assert {v.execution.status for v in views} <= {ExecutionStatus.QUEUED, ExecutionStatus.RUNNING}


async def test_other_consumers_cannot_see_or_cancel() -> None:
    w = await make_world()
    e = await start(w)
    with pytest.raises(ExecutionNotFound):
        await w.executions.get(w.bob.id, e.id)
    with pytest.raises(ExecutionNotFound):
        await w.executions.cancel(w.bob.id, e.id)
    with pytest.raises(ExecutionNotFound):
        await w.executions.get(w.alice.id, uuid.uuid4())


async def test_provider_errors_during_poll_change_nothing() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.fail_next("status", GpuProviderError("503", status_code=503))
    view = await w.executions.get(w.alice.id, e.id)
    assert view.execution.status is ExecutionStatus.QUEUED


async def test_job_unknown_to_the_provider_fails_with_job_lost() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.forget(e.provider_job_id)
    view = await w.executions.get(w.alice.id, e.id)
    assert view.execution.status is ExecutionStatus.FAILED
    assert view.execution.error_code == "JOB_LOST"


async def test_cancel_running_execution() -> None:
    w = await make_world()
    e = await start(w)
    cancelled = (await w.executions.cancel(w.alice.id, e.id)).execution
    assert cancelled.status is ExecutionStatus.CANCELLED
    assert w.gpu.jobs[e.provider_job_id].status == "CANCELLED"
    with pytest.raises(ExecutionNotCancellable):
        await w.executions.cancel(w.alice.id, e.id)


async def test_cancel_after_the_job_completed_records_the_completion() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE, execution_time_ms=10)
    with pytest.raises(ExecutionNotCancellable):
        await w.executions.cancel(w.alice.id, e.id)
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED and stored.output_payload == IMAGE


async def test_cancel_fails_loudly_when_the_provider_is_down() -> None:
    w = await make_world()
    e = await start(w)
    w.gpu.fail_next("cancel", GpuProviderError("down", status_code=502))
    with pytest.raises(GpuProviderError):
        await w.executions.cancel(w.alice.id, e.id)
    assert (await w.stored(e.id)).status is ExecutionStatus.QUEUED


async def test_cancel_while_submit_in_flight_stops_the_job() -> None:
    w = await make_world()
    w.gpu.latency["submit"] = 0.05
    task = asyncio.create_task(
        w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    )
    await asyncio.sleep(0.01)
    page = await w.executions.list(w.alice.id, PageRequest())
    [pending] = page.items
    assert pending.status is ExecutionStatus.PENDING
    await w.executions.cancel(w.alice.id, pending.id)
    result = await task
    assert result.view.execution.status is ExecutionStatus.CANCELLED
    [job] = w.gpu.jobs.values()
    assert job.status == "CANCELLED"
    assert w.gpu.calls["cancel"] == 1


async def test_reconciler_stores_results_nobody_polled_before_retention_ends() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    clock.advance(5)
    report = await w.reconciler.run_once()
    assert report.polled == 1
    clock.advance(31 * 60)
    w.gpu.forget(e.provider_job_id)  # the provider's retention has expired
    view = await w.executions.get(w.alice.id, e.id)
    assert view.execution.status is ExecutionStatus.COMPLETED
    assert view.execution.output_payload == IMAGE


async def test_reconciler_times_out_executions_past_their_deadline() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "IN_PROGRESS")
    clock.advance(w.settings.deadline(w.base).total_seconds() + 1)
    report = await w.reconciler.run_once()
    assert report.timed_out == 1
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.TIMED_OUT
    assert stored.error_code == "DEADLINE_EXCEEDED"
    assert w.gpu.jobs[e.provider_job_id].status == "CANCELLED"


async def test_reconciler_survives_a_storage_outage_and_resumes() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    clock.advance(5)
    w.store.down = True
    with pytest.raises(StorageError):
        await w.reconciler.run_once()
    w.store.down = False
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).status is ExecutionStatus.COMPLETED


async def test_reconciler_loop_keeps_running_through_outages() -> None:
    w = await make_world(SystemClock(), settings=EngineSettings(poll_min_interval_s=0.0))
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    w.store.down = True
    loop_task = asyncio.create_task(w.reconciler.run_forever(interval_s=0.01, max_backoff_s=0.02))
    await asyncio.sleep(0.05)
    w.store.down = False
    for _ in range(100):
        if (await w.stored(e.id)).status is ExecutionStatus.COMPLETED:
            break
        await asyncio.sleep(0.01)
    loop_task.cancel()
    assert (await w.stored(e.id)).status is ExecutionStatus.COMPLETED


async def test_pollers_reconciler_and_cancel_racing_settle_on_one_outcome() -> None:
    w = await make_world(SystemClock(), settings=EngineSettings(poll_min_interval_s=0.0))
    e = await start(w)
    w.gpu.latency["status"] = 0.01
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    outcomes = await asyncio.gather(
        w.executions.get(w.alice.id, e.id),
        w.executions.get(w.alice.id, e.id),
        w.reconciler.run_once(),
        w.executions.cancel(w.alice.id, e.id),
        return_exceptions=True,
    )
    assert not [
        o
        for o in outcomes
        if isinstance(o, Exception) and not isinstance(o, ExecutionNotCancellable)
    ]
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED
    assert stored.output_payload == IMAGE
    # A late, stale report can never move it back.
    w.gpu.set_status(e.provider_job_id, "IN_QUEUE")
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).status is ExecutionStatus.COMPLETED


async def test_wait_mode_returns_when_terminal() -> None:
    w = await make_world(SystemClock(), settings=EngineSettings(poll_min_interval_s=0.01))
    w.gpu.on_submit = lambda job: (
        setattr(job, "status", "COMPLETED") or setattr(job, "output", IMAGE)
    )
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, wait_s=2))
    assert result.view.execution.status is ExecutionStatus.COMPLETED


async def test_wait_mode_gives_up_after_the_wait() -> None:
    w = await make_world(SystemClock(), settings=EngineSettings(poll_min_interval_s=0.01))
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, wait_s=0.1)
    )
    assert result.view.execution.status is ExecutionStatus.QUEUED
    assert loop.time() - started >= 0.1
