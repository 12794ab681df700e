"""The in-process simulator answers jobs sent to fal endpoints as fal does about logs: the
runner's lines grow over the run (the fake fal queue's lines), a queued job knows how many
are ahead of it; jobs sent to RunPod endpoints report neither."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_queue import COMPLETED, State
from adapters.providers.simulator.provider import SimulatedGpuProvider
from entrypoints.container.gpu import simulated_providers
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobReport, JobRequest

STARTED = "Simulated runner started the request"
FINISHED = "Simulated runner finished the request"


def _engine(clock: ManualClock) -> SimulatorEngine:
    return SimulatorEngine(queue_delay_s=1.0, run_time_s=10.0, seed=7, now=clock)


def _image(endpoint: str = "fal-ai/flux/schnell", **input: Any) -> JobRequest:
    return JobRequest(endpoint, {"prompt": "a fox", **input}, 600_000, 600_000, OutputType.IMAGE)


def _messages(report: JobReport) -> list[str]:
    assert report.logs is not None
    return [line["message"] for line in report.logs]


async def test_a_fal_jobs_log_grows_over_its_run() -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=True)
    submitted = await provider.submit(_image())
    assert submitted.queue_position == 0

    queued = await provider.status("fal-ai/flux/schnell", submitted.job_id)
    assert (queued.status, queued.logs, queued.queue_position) == ("IN_QUEUE", [], 0)

    clock.advance(1.0)  # started
    assert _messages(await provider.status("fal-ai/flux/schnell", submitted.job_id)) == [STARTED]
    clock.advance(3.5)  # 35% of the run
    running = await provider.status("fal-ai/flux/schnell", submitted.job_id)
    assert running.status == "IN_PROGRESS" and running.queue_position is None
    assert _messages(running) == [STARTED, "Step 1/10", "Step 2/10", "Step 3/10"]

    clock.advance(10.0)
    done = await provider.status("fal-ai/flux/schnell", submitted.job_id)
    steps = [f"Step {k}/10" for k in range(1, 11)]
    assert done.status == "COMPLETED"
    assert _messages(done) == [STARTED, *steps, FINISHED]
    assert done.logs is not None and running.logs is not None
    assert done.logs[: len(running.logs)] == running.logs  # the same lines, the same times
    assert {(line["level"], line["source"]) for line in done.logs} == {("INFO", "user")}


async def test_the_lines_are_the_fake_fal_queues() -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=True)
    submitted = await provider.submit(_image())
    clock.advance(20.0)
    done = await provider.status("fal-ai/flux/schnell", submitted.job_id)
    assert done.logs is not None
    fal = State(COMPLETED, started=True, percent=100).logs()
    assert _messages(done) == [line["message"] for line in fal]


async def test_a_job_without_progress_logs_its_start_and_end_only() -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=True)
    request = JobRequest("fal-ai/any-llm", {"prompt": "hi"}, 600_000, 600_000, OutputType.JSON)
    submitted = await provider.submit(request)
    clock.advance(5.0)
    assert _messages(await provider.status("fal-ai/any-llm", submitted.job_id)) == [STARTED]
    clock.advance(10.0)
    done = await provider.status("fal-ai/any-llm", submitted.job_id)
    assert _messages(done) == [STARTED, FINISHED]


async def test_a_failed_or_cancelled_job_logs_its_end() -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=True)
    failing = await provider.submit(_image(simulate="fail"))
    cancelled = await provider.submit(_image())
    clock.advance(3.0)
    stopped = await provider.cancel("fal-ai/flux/schnell", cancelled.job_id)
    assert stopped.status == "CANCELLED" and _messages(stopped) == [STARTED, FINISHED]
    clock.advance(10.0)
    failed = await provider.status("fal-ai/flux/schnell", failing.job_id)
    assert failed.status == "FAILED" and _messages(failed) == [STARTED, FINISHED]


async def test_a_queued_job_counts_the_jobs_of_its_endpoint_ahead_of_it() -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=True)
    first = await provider.submit(_image(simulate_queue_s=5))
    other = await provider.submit(_image("fal-ai/other", simulate_queue_s=5))
    second = await provider.submit(_image(simulate_queue_s=5))
    third = await provider.submit(_image(simulate_queue_s=5))
    assert [r.queue_position for r in (first, other, second, third)] == [0, 0, 1, 2]
    await provider.cancel("fal-ai/flux/schnell", first.job_id)  # no longer waiting
    report = await provider.status("fal-ai/flux/schnell", third.job_id)
    assert report.queue_position == 1
    clock.advance(5.0)  # every one has started
    started = await provider.status("fal-ai/flux/schnell", third.job_id)
    assert started.status == "IN_PROGRESS" and started.queue_position is None


async def test_submit_and_wait_reports_the_whole_log() -> None:
    provider = SimulatedGpuProvider(SimulatorEngine(queue_delay_s=0, run_time_s=0), fal_logs=True)
    report = await provider.submit_and_wait(_image(), 1000)
    assert report.status == "COMPLETED"
    assert _messages(report)[0] == STARTED and _messages(report)[-1] == FINISHED


@pytest.mark.parametrize("fal_logs", [False, True])
async def test_only_fal_routed_jobs_report_logs(fal_logs: bool) -> None:
    clock = ManualClock()
    provider = SimulatedGpuProvider(_engine(clock), fal_logs=fal_logs)
    submitted = await provider.submit(_image())
    reports = [await provider.status("fal-ai/flux/schnell", submitted.job_id)]
    for _ in range(3):
        clock.advance(5.0)
        reports.append(await provider.status("fal-ai/flux/schnell", submitted.job_id))
    assert reports[-1].status == "COMPLETED"
    if fal_logs:
        assert all(r.logs is not None for r in reports) and len(_messages(reports[-1])) == 12
    else:
        assert all(r.logs is None and r.queue_position is None for r in reports)
        assert submitted.queue_position is None


async def test_the_embedded_simulator_logs_fal_targets_only() -> None:
    clock = ManualClock()
    routing = simulated_providers(_engine(clock))
    on_fal = await routing.submit(_image("fal:fal-ai/flux/schnell"))
    on_runpod = await routing.submit(_image("sdxl-endpoint"))
    clock.advance(20.0)
    fal_done = await routing.status("fal:fal-ai/flux/schnell", on_fal.job_id)
    runpod_done = await routing.status("sdxl-endpoint", on_runpod.job_id)
    assert (fal_done.status, runpod_done.status) == ("COMPLETED", "COMPLETED")
    assert _messages(fal_done)[-1] == FINISHED
    assert runpod_done.logs is None
    # Its job ids are laid out as fal's, so the routing provider finds it by its path or
    # by the bare request id (fal's webhook names that one).
    app, bare = on_fal.job_id.split("/requests/")
    assert app == "fal-ai/flux" and fal_done.job_id == on_fal.job_id
    again = await routing.status("fal:fal-ai/flux/schnell", bare)
    assert (again.job_id, again.logs) == (on_fal.job_id, fal_done.logs)
