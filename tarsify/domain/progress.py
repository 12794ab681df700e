"""How provider reports and engine decisions change an execution.

Pure functions on ``Execution``: they never move an execution backwards or out of a
terminal status, so applying a stale or repeated report is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tarsify.domain.models import Execution, ExecutionStatus
from tarsify.domain.states import can_transition, map_provider_status

# Codes of execution failures, shown to consumers in ``error.code``.
JOB_FAILED = "JOB_FAILED"
JOB_TIMED_OUT = "JOB_TIMED_OUT"
JOB_CANCELLED = "JOB_CANCELLED"
JOB_LOST = "JOB_LOST"
PROVIDER_REJECTED = "PROVIDER_REJECTED"
SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"

_DEFAULT_MESSAGES = {
    ExecutionStatus.FAILED: (JOB_FAILED, "The model failed to process the inputs"),
    ExecutionStatus.TIMED_OUT: (JOB_TIMED_OUT, "The job ran longer than its time limit"),
    ExecutionStatus.CANCELLED: (JOB_CANCELLED, "The execution was cancelled"),
}


def finish(
    execution: Execution,
    status: ExecutionStatus,
    now: datetime,
    *,
    output: Any = None,
    error_code: str | None = None,
    error_message: str | None = None,
    execution_time_ms: int | None = None,
    queue_time_ms: int | None = None,
) -> bool:
    """Move ``execution`` to a terminal ``status``; False (and no change) if not allowed."""
    if not status.is_terminal or not can_transition(execution.status, status):
        return False
    execution.status = status
    execution.completed_at = now
    if execution_time_ms is not None:
        execution.execution_time_ms = execution_time_ms
    if queue_time_ms is not None:
        execution.queue_time_ms = queue_time_ms
    if execution.started_at is None and execution.execution_time_ms is not None:
        execution.started_at = now - timedelta(milliseconds=execution.execution_time_ms)
    if status is ExecutionStatus.COMPLETED:
        execution.output_payload = output
        execution.error_code = execution.error_message = None
    else:
        default_code, default_message = _DEFAULT_MESSAGES[status]
        execution.error_code = error_code or default_code
        execution.error_message = error_message or default_message
    execution.updated_at = now
    return True


def apply_snapshot(
    execution: Execution,
    *,
    job_id: str,
    status: str,
    now: datetime,
    output: Any = None,
    error: str | None = None,
    delay_time_ms: int | None = None,
    execution_time_ms: int | None = None,
) -> bool:
    """Apply what the provider reported about the job; True when something changed.

    Unknown provider statuses change nothing; so do reports that would move the execution
    backwards (a late IN_QUEUE after RUNNING) or out of a terminal status.
    """
    changed = False
    if execution.provider_job_id is None:
        execution.provider_job_id = job_id
        changed = True
    target = map_provider_status(status)
    if target is None or target is execution.status or not can_transition(execution.status, target):
        if changed:
            execution.updated_at = now
        return changed
    if target.is_terminal:
        return (
            finish(
                execution,
                target,
                now,
                output=output,
                error_message=error,
                execution_time_ms=execution_time_ms,
                queue_time_ms=delay_time_ms,
            )
            or changed
        )
    execution.status = target
    if target is ExecutionStatus.RUNNING and execution.started_at is None:
        execution.started_at = now
        if delay_time_ms is not None:
            execution.queue_time_ms = delay_time_ms
    execution.updated_at = now
    return True
