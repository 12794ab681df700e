"""Streamed output: event ids of chunks and states, the aggregate, progress reports, and
the simulator's generator handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from adapters.providers.runpod.provider import snapshot_from_status
from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.streams import stream_chunk
from tarsify.domain.execution import Execution
from tarsify.domain.jobs import JobReport
from tarsify.domain.models import ExecutionStatus, OutputType
from tarsify.domain.streams import aggregate, chunks_after

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def running(**changes: object) -> Execution:
    execution = Execution(
        id=uuid.uuid4(),
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=T0,
        updated_at=T0,
        status=ExecutionStatus.RUNNING,
        provider_job_id="job-1",
    )
    for name, value in changes.items():
        setattr(execution, name, value)
    return execution


def test_chunk_ids_fall_between_the_states_around_them() -> None:
    before = running(version=4, chunks=2)
    assert before.event_id == 6
    rows = chunks_after(before, ["a", "b", "c"], T0)
    assert [(r.seq, r.event_id) for r in rows] == [(3, 7), (4, 8), (5, 9)]
    after = running(version=4, chunks=2)
    assert after.add_chunks(3)
    after.version += 1  # as the store does with the change
    assert after.event_id == 10 > rows[-1].event_id


def test_no_chunk_is_counted_after_the_end() -> None:
    execution = running()
    assert execution.finish(ExecutionStatus.COMPLETED, T0, output=["x"])
    assert not execution.add_chunks(1)
    assert not running().add_chunks(0)


def test_the_final_output_is_the_aggregate_or_the_chunks() -> None:
    assert aggregate(["a", "b"], ["a"]) == ["a", "b"]
    assert aggregate(None, ["a", "b"]) == ["a", "b"]
    assert aggregate("", ["a"]) == ["a"]
    assert aggregate({"text": "ab"}, ["a", "b"]) == {"text": "ab"}


def test_progress_is_recorded_while_running_and_a_change_only_when_new() -> None:
    execution = running()
    report = JobReport(job_id="job-1", status="IN_PROGRESS", progress={"percent": 40})
    assert execution.apply(report, T0)
    assert execution.progress == {"percent": 40}
    assert not execution.apply(report, T0)
    assert execution.shown_state() == running().shown_state()  # progress is not a status


def test_runpod_shows_progress_as_the_output_of_a_running_job() -> None:
    report = snapshot_from_status({"id": "j", "status": "IN_PROGRESS", "output": "step 3/10"})
    assert (report.output, report.progress) == (None, "step 3/10")
    done = snapshot_from_status({"id": "j", "status": "COMPLETED", "output": {"text": "hi"}})
    assert (done.output, done.progress) == ({"text": "hi"}, None)


def test_a_generator_handler_yields_over_its_run_and_each_chunk_is_read_once() -> None:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=0.0, run_time_s=2.0, now=clock)
    job = engine.submit("e", {"simulate_stream": 8}, output_type=OutputType.TEXT)
    read = engine.stream("e", job.id)
    assert read is not None and read[1] == []
    clock.advance(1.0)
    read = engine.stream("e", job.id)
    assert read is not None
    view, first = read
    assert view.status == "IN_PROGRESS" and first == [
        stream_chunk(OutputType.TEXT, i) for i in range(4)
    ]
    again = engine.stream("e", job.id)
    assert again is not None and again[1] == []  # consumed: a second reader gets nothing
    clock.advance(5.0)
    last = engine.stream("e", job.id)
    assert last is not None and last[0].status == "COMPLETED"
    assert first + last[1] == [stream_chunk(OutputType.TEXT, i) for i in range(8)]
    final = engine.get("e", job.id)
    assert final is not None and final.output == first + last[1]


def test_a_simulated_image_job_reports_progress_while_it_runs() -> None:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=0.0, run_time_s=2.0, now=clock)
    job = engine.submit("e", {"prompt": "x"}, output_type=OutputType.IMAGE)
    clock.advance(1.0)
    view = engine.get("e", job.id)
    assert view is not None and view.to_runpod()["output"] == {"percent": 50}
    clock.advance(2.0)
    done = engine.get("e", job.id)
    assert done is not None and "images" in done.to_runpod()["output"]
