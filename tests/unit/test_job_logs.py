"""A job's log lines and place in the queue: what is kept of a provider's report (bounded,
valid), how an execution records them, the lines an event stream sends as new, the
webhook event they make, and how fal's status answer is read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.providers.fal.provider import report_from_status
from tarsify.domain.execution import Execution
from tarsify.domain.jobs import JobReport
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.webhooks import WebhookEventType, events_of
from tarsify.domain.worker_logs import (
    MAX_LOG_LINES,
    MAX_LOGS_CHARS,
    MAX_MESSAGE_CHARS,
    kept_logs,
    log_line,
    new_lines,
    queue_place,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
JOB = "fal-ai/flux/requests/r-1"


def line(message: str, stamp: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {"message": message, "level": "INFO", "source": "user", "timestamp": stamp}


def execution(status: ExecutionStatus = ExecutionStatus.QUEUED, **changes: Any) -> Execution:
    e = Execution(
        id=uuid.uuid4(),
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=T0,
        updated_at=T0,
        status=status,
        provider_job_id=JOB,
    )
    for name, value in changes.items():
        setattr(e, name, value)
    return e


# --- what is kept ------------------------------------------------------------------------


def test_a_line_keeps_its_four_fields_and_a_plain_string_is_a_message() -> None:
    assert log_line(line("loading")) == line("loading")
    assert log_line("step 1") == {
        "message": "step 1",
        "level": None,
        "source": None,
        "timestamp": None,
    }
    assert log_line({"level": "INFO"}) is None  # no message: not a line
    assert log_line(42) is None
    assert log_line({"message": 7})["message"] == "7"  # type: ignore[index]


def test_text_is_made_valid_and_cut_to_size() -> None:
    kept = log_line({"message": "a\x00b\ud800c" + "x" * 5000, "level": ["no"], "source": True})
    assert kept is not None
    message = kept["message"]
    assert message is not None
    assert "\x00" not in message and "\ud800" not in message
    assert len(message) == MAX_MESSAGE_CHARS and message.endswith("…")
    assert kept["level"] is None and kept["source"] is None
    assert len(log_line({"message": "m", "level": "L" * 500})["level"] or "") == 64  # type: ignore[index]


def test_the_bounds_are_those_documented() -> None:
    # API.md: at most 100 lines, 16,000 characters of messages, a message cut at 1,000.
    assert (MAX_LOG_LINES, MAX_LOGS_CHARS, MAX_MESSAGE_CHARS) == (100, 16_000, 1000)
    exact = "z" * 1000
    assert log_line(exact) == {"message": exact, "level": None, "source": None, "timestamp": None}


def test_only_the_newest_lines_are_kept_within_both_bounds() -> None:
    many = [line(f"line {i}") for i in range(MAX_LOG_LINES + 20)]
    kept = kept_logs(many)
    assert kept is not None and len(kept) == MAX_LOG_LINES
    assert kept[0]["message"] == "line 20" and kept[-1]["message"] == f"line {MAX_LOG_LINES + 19}"
    big = [line("y" * MAX_MESSAGE_CHARS) for _ in range(40)]
    kept = kept_logs(big)
    assert kept is not None
    assert len(kept) == MAX_LOGS_CHARS // MAX_MESSAGE_CHARS
    assert sum(len(x["message"] or "") for x in kept) <= MAX_LOGS_CHARS


def test_a_report_without_a_list_of_lines_says_nothing_about_logs() -> None:
    assert kept_logs(None) is None
    assert kept_logs("a string") is None
    assert kept_logs({"message": "x"}) is None
    assert kept_logs([None, 3, line("ok")]) == [line("ok")]
    assert kept_logs([]) == []


def test_the_new_lines_are_those_after_the_tail_already_seen() -> None:
    a, b, c, d = (line(x) for x in "abcd")
    assert new_lines(None, [a, b]) == [a, b]
    assert new_lines([a, b], [a, b, c]) == [c]
    assert new_lines([a, b, c], [b, c, d]) == [d]  # the oldest line fell off the bound
    assert new_lines([a, b], [b, c]) == [c]
    assert new_lines([a, b], [a, b]) == []
    assert new_lines([a, b], [c, d]) == [c, d]  # nothing in common: all new
    assert new_lines([a, a], [a, a, a]) == [a]


def test_a_place_in_the_queue_is_a_count_from_zero() -> None:
    assert queue_place(0) == 0 and queue_place(3) == 3
    for bad in (-1, True, 2.0, "3", None, 2**31):
        assert queue_place(bad) is None


# --- the execution -----------------------------------------------------------------------


def test_logs_are_recorded_when_they_change_and_not_otherwise() -> None:
    e = execution(ExecutionStatus.RUNNING)
    report = JobReport(job_id=JOB, status="IN_PROGRESS", logs=[line("a")])
    assert e.apply(report, T0)
    assert e.logs == [line("a")]
    assert not e.apply(report, T0)  # the same lines: no change
    assert not e.apply(JobReport(job_id=JOB, status="IN_PROGRESS"), T0)  # no logs said
    assert e.logs == [line("a")]
    assert not e.apply(JobReport(job_id=JOB, status="IN_PROGRESS", logs=[]), T0)  # kept
    assert e.logs == [line("a")]
    assert e.apply(JobReport(job_id=JOB, status="IN_PROGRESS", logs=[line("a"), line("b")]), T0)
    assert e.logs == [line("a"), line("b")]


def test_an_empty_log_leaves_an_execution_without_logs() -> None:
    e = execution(ExecutionStatus.RUNNING)
    assert not e.apply(JobReport(job_id=JOB, status="IN_PROGRESS", logs=[]), T0)
    assert e.logs is None


def test_the_last_lines_are_kept_with_the_end_and_nothing_changes_after_it() -> None:
    e = execution(ExecutionStatus.RUNNING)
    done = JobReport(job_id=JOB, status="COMPLETED", output={"ok": 1}, logs=[line("done")])
    assert e.apply(done, T0)
    assert e.status is ExecutionStatus.COMPLETED and e.logs == [line("done")]
    late = JobReport(job_id=JOB, status="COMPLETED", logs=[line("done"), line("late")])
    assert not e.apply(late, T0)
    assert e.logs == [line("done")]


def test_a_report_about_another_job_records_no_logs() -> None:
    e = execution(ExecutionStatus.RUNNING)
    assert not e.apply(JobReport(job_id="other", status="IN_PROGRESS", logs=[line("x")]), T0)
    assert e.logs is None


def test_the_place_in_the_queue_is_kept_while_queued_only() -> None:
    e = execution(ExecutionStatus.QUEUED)
    assert e.apply(JobReport(job_id=JOB, status="IN_QUEUE", queue_position=3), T0)
    assert e.queue_position == 3
    assert 3 in e.shown_state()  # a change of place is a status event
    assert not e.apply(JobReport(job_id=JOB, status="IN_QUEUE", queue_position=3), T0)
    assert e.apply(JobReport(job_id=JOB, status="IN_QUEUE", queue_position=1), T0)
    assert e.queue_position == 1
    assert e.apply(JobReport(job_id=JOB, status="IN_PROGRESS", queue_position=0), T0)
    assert e.status is ExecutionStatus.RUNNING and e.queue_position is None


def test_a_bad_place_is_not_recorded_and_the_end_clears_it() -> None:
    e = execution(ExecutionStatus.QUEUED)
    assert not e.apply(JobReport(job_id=JOB, status="IN_QUEUE", queue_position=-2), T0)
    assert e.queue_position is None
    e.apply(JobReport(job_id=JOB, status="IN_QUEUE", queue_position=5), T0)
    assert e.cancel(T0)
    assert e.queue_position is None


def test_the_submit_answer_places_a_pending_execution_in_the_queue() -> None:
    e = execution(ExecutionStatus.PENDING, provider_job_id=None)
    report = JobReport(job_id=JOB, status="IN_QUEUE", queue_position=2)
    assert e.apply(report, T0, submitted=True)
    assert (e.status, e.queue_position) == (ExecutionStatus.QUEUED, 2)


# --- webhooks ----------------------------------------------------------------------------


def test_new_log_lines_make_a_logs_event() -> None:
    before = execution(ExecutionStatus.RUNNING, logs=[line("a")])
    after = execution(ExecutionStatus.RUNNING, logs=[line("a"), line("b")])
    assert events_of(before, after) == [WebhookEventType.LOGS]
    assert events_of(after, after) == []
    assert events_of(execution(ExecutionStatus.RUNNING), execution(ExecutionStatus.RUNNING)) == []


# --- fal's status answer -----------------------------------------------------------------


def test_fal_status_carries_its_logs_and_place_in_the_queue() -> None:
    queued = report_from_status(JOB, {"status": "IN_QUEUE", "queue_position": 4, "logs": None})
    assert (queued.queue_position, queued.logs) == (4, None)
    running = report_from_status(
        JOB, {"status": "IN_PROGRESS", "queue_position": 9, "logs": [line("x")]}
    )
    assert (running.queue_position, running.logs) == (None, [line("x")])
    done = report_from_status(JOB, {"status": "COMPLETED", "logs": [line("y")]})
    assert done.logs == [line("y")]
    failed = report_from_status(
        JOB, {"status": "COMPLETED", "error": "boom", "error_type": "x", "logs": [line("z")]}
    )
    assert (failed.status, failed.logs) == ("FAILED", [line("z")])
    odd = report_from_status(JOB, {"status": "IN_QUEUE", "queue_position": "near", "logs": 3})
    assert (odd.queue_position, odd.logs) == (None, None)
