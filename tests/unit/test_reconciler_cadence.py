"""The reconciler's pace: how many jobs it asks about at once, and how soon its next
pass follows (on fakes: counts and decisions, never timings)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.memory.clock import ManualClock
from adapters.memory.downloads import FakeDownloader
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.run_request import RunRequest
from tarsify.services.engine.reconciler import PassReport
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.files import OutputFiles
from tests.unit.world import World, make_world

DONE = {"text": "done"}
INTERVAL = 2.0


async def started(w: World, count: int) -> list[Execution]:
    """``count`` runs, each sent to the provider."""
    runs = []
    for _ in range(count):
        run = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
        assert run.view.execution.provider_job_id is not None
        runs.append(run.view.execution)
    return runs


def finish(w: World, runs: list[Execution], status: str = "COMPLETED") -> None:
    for run in runs:
        assert run.provider_job_id is not None
        w.gpu.set_status(
            run.provider_job_id, status, output=DONE if status == "COMPLETED" else None
        )


async def test_a_pass_asks_about_its_jobs_concurrently_up_to_the_bound() -> None:
    settings = EngineSettings(poll_min_interval_s=0.0, reconcile_concurrency=4)
    w = await make_world(ManualClock(), settings=settings)
    finish(w, await started(w, 10))
    w.gpu.latency["status"] = 0.01  # every call is still in flight when the next starts
    report = await w.reconciler.run_once()
    assert (report.claimed, report.polled, len(report.finished)) == (10, 10, 10)
    assert w.gpu.max_in_flight["status"] == 4


async def test_passes_follow_at_once_while_full_batches_finish() -> None:
    settings = EngineSettings(
        poll_min_interval_s=0.0, reconcile_batch=3, reconcile_busy_interval_s=0.25
    )
    w = await make_world(ManualClock(), settings=settings)
    finish(w, await started(w, 5))
    first = await w.reconciler.run_once()
    assert (first.claimed, len(first.finished)) == (3, 3)
    assert w.reconciler.next_delay(first, INTERVAL) == 0.0  # more are due
    second = await w.reconciler.run_once()
    assert (second.claimed, len(second.finished)) == (2, 2)
    assert w.reconciler.next_delay(second, INTERVAL) == 0.25  # runs are arriving
    third = await w.reconciler.run_once()
    assert third.claimed == 0
    assert w.reconciler.next_delay(third, INTERVAL) == INTERVAL  # nothing to do


async def test_jobs_that_keep_running_are_not_asked_about_sooner() -> None:
    settings = EngineSettings(poll_min_interval_s=0.0, reconcile_batch=3)
    w = await make_world(ManualClock(), settings=settings)
    finish(w, await started(w, 3), "IN_PROGRESS")
    report = await w.reconciler.run_once()
    assert (report.claimed, report.polled, report.finished) == (3, 3, [])
    assert w.reconciler.next_delay(report, INTERVAL) == INTERVAL


def test_the_busy_interval_never_exceeds_the_configured_one() -> None:
    settings = EngineSettings(reconcile_busy_interval_s=5.0)
    w = World(clock=ManualClock(), settings=settings)
    report = PassReport(claimed=1, finished=["x"])
    assert w.reconciler.next_delay(report, INTERVAL) == INTERVAL


async def test_the_loop_runs_the_next_pass_at_once_after_a_full_batch() -> None:
    settings = EngineSettings(poll_min_interval_s=0.0, reconcile_batch=2)
    w = await make_world(ManualClock(), settings=settings)
    runs = await started(w, 6)
    finish(w, runs)
    # An hour between passes: only passes that follow at once can finish them all.
    loop = asyncio.create_task(w.reconciler.run_forever(interval_s=3600))
    try:
        for _ in range(200):
            listed = [await w.stored(e.id) for e in runs]
            if all(e.status is ExecutionStatus.COMPLETED for e in listed):
                break
            await asyncio.sleep(0)
    finally:
        loop.cancel()
    assert [e.status for e in listed] == [ExecutionStatus.COMPLETED] * 6


async def test_completions_read_their_base_model_once_per_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ManualClock()
    settings = EngineSettings(poll_min_interval_s=0.0, run_target_ttl_s=1.0)
    files = OutputFiles(MemoryBlobStore(), FakeDownloader(), url_ttl_s=600)
    w = await make_world(clock, settings=settings, files=files)
    reads: list[object] = []
    real = w.dispatcher._recording._target_of

    async def counted(execution: Execution) -> object:
        reads.append(execution.id)
        return await real(execution)

    monkeypatch.setattr(w.dispatcher._recording, "_target_of", counted)
    finish(w, await started(w, 3))
    report = await w.reconciler.run_once()
    assert len(report.finished) == 3 and len(reads) == 1
    clock.advance(1.5)  # past the TTL: read again
    finish(w, await started(w, 2))
    report = await w.reconciler.run_once()
    assert len(report.finished) == 2 and len(reads) == 2
