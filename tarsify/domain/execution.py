"""The Execution aggregate: one run of a Tars model, and every rule of its life.

Each method decides one transition and says whether it changed anything; services load
the execution, ask it, and store it with a compare-and-set on ``version``. No method
ever moves an execution backwards or out of a terminal status, so applying a stale or
repeated provider report is harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tarsify.domain.failures import Failure, PendingReason
from tarsify.domain.jobs import JobReport
from tarsify.domain.jsonsafe import Repairs, json_safe, safe_text
from tarsify.domain.models import ExecutionStatus, JsonObject
from tarsify.domain.states import can_transition
from tarsify.domain.worker_logs import LogLine, kept_logs, queue_place

MAX_ERROR_CHARS = 1000
_S = ExecutionStatus
_DEFAULT_FAILURE = {
    _S.FAILED: Failure.JOB_FAILED,
    _S.TIMED_OUT: Failure.JOB_TIMED_OUT,
    _S.CANCELLED: Failure.JOB_CANCELLED,
}


# Set when an execution is created, never changed by a transition: a store need not write
# them again with each change, and what is shown of an execution never needs the merged
# ``input_payload`` (only sending the job does, from the execution as stored).
SET_AT_CREATION = frozenset(
    {"consumer_id", "tars_model_id", "endpoint_id", "created_at", "consumer_input"}
    | {"input_payload", "idempotency_key", "request_hash", "price"}
)


class Step(StrEnum):
    """What the reconciler should do next with an execution (``Execution.next_step``)."""

    NOTHING = "NOTHING"  # terminal, or waiting for a time that has not come
    SEND = "SEND"  # never sent: send it now
    POLL = "POLL"  # accepted by the provider: ask how it is doing
    UNCONFIRMED = "UNCONFIRMED"  # a submit unanswered for longer than any submit lasts
    GIVE_UP = "GIVE_UP"  # the submit was never confirmed and its wait is over
    EXPIRE = "EXPIRE"  # past the deadline: stop it


@dataclass(slots=True)
class Execution:
    """One run of a Tars model by a consumer, or a developer's test run of their own
    model (``consumer_id`` None: free, in no consumer's history and no model's figures).

    ``consumer_input`` is what the consumer sent (shown back to them); ``input_payload``
    is the merged payload sent to the GPU worker, which may hold the developer's hidden
    values and prompt wrapping and is never shown to consumers.
    ``provider_endpoint_id`` is the provider endpoint the job was sent to: every later
    call about the job uses it, whatever happens to the endpoint's configuration.
    ``wake_at`` is when a PENDING execution needs the reconciler next (send it again,
    or give up on an unconfirmed submit); ``pending_reason`` says why it waits.
    ``version`` increases with every stored change (compare-and-set).
    """

    id: uuid.UUID
    consumer_id: uuid.UUID | None
    tars_model_id: uuid.UUID
    endpoint_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    status: ExecutionStatus = ExecutionStatus.PENDING
    provider_job_id: str | None = None
    consumer_input: JsonObject | None = None
    input_payload: JsonObject | None = None
    output_payload: Any = None
    error_code: str | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    execution_time_ms: int | None = None
    queue_time_ms: int | None = None
    deadline_at: datetime | None = None
    last_polled_at: datetime | None = None
    submit_attempts: int = 0
    idempotency_key: str | None = None
    request_hash: str | None = None
    version: int = 1
    provider_endpoint_id: str | None = None
    wake_at: datetime | None = None
    pending_reason: PendingReason | None = None
    output_repairs: int = 0
    # Credits held when it was created; charged if it completes, released otherwise.
    price: int = 0
    # Chunks of a streaming model's output stored so far (``tarsify.domain.streams``),
    # and the worker's latest progress report while it runs.
    chunks: int = 0
    progress: Any = None
    # The job's log lines (``tarsify.domain.worker_logs``: bounded) and its place in the
    # provider's queue while QUEUED, where the provider reports them (fal).
    logs: list[LogLine] | None = None
    queue_position: int | None = None

    def __post_init__(self) -> None:
        # Storage hands back the reason as plain text.
        if self.pending_reason is not None:
            self.pending_reason = PendingReason(self.pending_reason)

    @property
    def is_terminal(self) -> bool:
        """True once the execution reached a final status."""
        return self.status.is_terminal

    @property
    def is_test_run(self) -> bool:
        """True for a developer's test run of their own model (no consumer)."""
        return self.consumer_id is None

    @property
    def event_id(self) -> int:
        """The id of this state in the execution's event stream: every stored change and
        every stored chunk moves it on by one (``tarsify.domain.streams``)."""
        return self.version + self.chunks

    def shown_state(self) -> tuple[Any, ...]:
        """What a ``status`` event shows beyond progress, logs and chunks: a change of it
        is a new ``status`` event."""
        return (
            self.status,
            self.output_payload,
            self.error_code,
            self.error_message,
            self.pending_reason,
            self.started_at,
            self.completed_at,
            self.execution_time_ms,
            self.queue_time_ms,
            self.queue_position,
        )

    @property
    def was_sent(self) -> bool:
        """True once a submit was claimed (the job may exist at the provider)."""
        return self.submit_attempts > 0 or self.provider_job_id is not None

    def past_deadline(self, now: datetime) -> bool:
        """True when the execution's deadline has passed."""
        return self.deadline_at is not None and now >= self.deadline_at

    def next_step(self, now: datetime) -> Step:
        """What the reconciler should do now; deadlines come before anything else."""
        if self.is_terminal:
            return Step.NOTHING
        if self.past_deadline(now):
            return Step.EXPIRE
        if self.provider_job_id is not None:
            return Step.POLL
        due = self.wake_at is None or self.wake_at <= now
        if not due:
            return Step.NOTHING
        if self.submit_attempts == 0:
            return Step.SEND
        # Claimed, never answered: its process died mid-submit. Say so first, give up later.
        if self.pending_reason is not PendingReason.SUBMIT_UNCONFIRMED:
            return Step.UNCONFIRMED
        return Step.GIVE_UP

    # --- submit --------------------------------------------------------------------

    def claim_submit(self, now: datetime, provider_endpoint_id: str, answer_by: datetime) -> bool:
        """Take the one right to send this PENDING execution to the provider.

        ``answer_by`` is when the submit must have been answered, whatever the answer:
        still unanswered then, its process died mid-submit (``Step.UNCONFIRMED``). The
        pending reason is kept: a job sent again after a 429 stays RATE_LIMITED until the
        provider confirms it.
        """
        if self.status is not _S.PENDING or self.was_sent:
            return False
        self.submit_attempts = 1
        self.provider_endpoint_id = provider_endpoint_id
        self.wake_at = answer_by
        self.updated_at = now
        return True

    def release_submit(self, now: datetime, retry_at: datetime, reason: PendingReason) -> bool:
        """The provider certainly did not create the job: send it again at ``retry_at``."""
        if self.status is not _S.PENDING or self.provider_job_id is not None:
            return False
        if self.submit_attempts == 0:
            return False
        self.submit_attempts = 0
        self.wake_at = retry_at
        self.pending_reason = reason
        self.updated_at = now
        return True

    def mark_unconfirmed(self, now: datetime, give_up_at: datetime) -> bool:
        """The submit may have created a job that we cannot name: say so while waiting,
        and give up at ``give_up_at`` (SUBMIT_UNCONFIRMED) unless the job is named."""
        if self.status is not _S.PENDING or self.provider_job_id is not None:
            return False
        if not self.was_sent or self.pending_reason is PendingReason.SUBMIT_UNCONFIRMED:
            return False
        self.pending_reason = PendingReason.SUBMIT_UNCONFIRMED
        self.wake_at = give_up_at
        self.updated_at = now
        return True

    def give_up_unconfirmed(self, now: datetime) -> bool:
        """FAILED (SUBMIT_UNCONFIRMED): the provider never confirmed a job for it."""
        if self.provider_job_id is not None or not self.was_sent:
            return False
        return self.fail(Failure.SUBMIT_UNCONFIRMED, now)

    # --- provider reports ------------------------------------------------------------

    def apply(self, report: JobReport, now: datetime, *, submitted: bool = False) -> bool:
        """Record what the provider reported about the job; True when something changed.

        A report about another job than this execution's is ignored. ``submitted``
        marks the submit's own answer, whose unknown status still means "queued".
        """
        if self.provider_job_id is not None and report.job_id != self.provider_job_id:
            return False
        if self.is_terminal:
            if self.provider_job_id is not None:
                return False
            # Cancelled while the submit was in flight: keep the id so the job can be stopped.
            self.provider_job_id = report.job_id
            self.updated_at = now
            return True
        changed = self._adopt_job(report.job_id, now)
        changed = self._take_reports(report, now) or changed
        target = report.execution_status
        if target is None and submitted and self.status is _S.PENDING:
            target = _S.QUEUED
        if target is not None and target is not self.status and can_transition(self.status, target):
            if target.is_terminal:
                return self._finish_from(report, target, now) or changed
            self.status = target
            if target is _S.RUNNING and self.started_at is None:
                self.started_at = now
                if report.delay_time_ms is not None:
                    self.queue_time_ms = report.delay_time_ms
            self.updated_at = now
            changed = True
        position = queue_place(report.queue_position) if self.status is _S.QUEUED else None
        if position != self.queue_position:
            self.queue_position = position
            self.updated_at = now
            changed = True
        return changed

    def _take_reports(self, report: JobReport, now: datetime) -> bool:
        """Keep the worker's latest progress and log lines, when they changed."""
        seen = (self.progress, self.logs)
        if report.progress is not None:
            self.progress = json_safe(report.progress)
        logs = kept_logs(report.logs)
        if logs:  # a log only grows: an empty report is no news
            self.logs = logs
        if (self.progress, self.logs) == seen:
            return False
        self.updated_at = now
        return True

    def add_chunks(self, count: int) -> bool:
        """``count`` more chunks of the output were stored with this change (refused once
        the execution is terminal: its stream is over)."""
        if count <= 0 or self.is_terminal:
            return False
        self.chunks += count
        return True

    def files_unstored(self, job_id: str, now: datetime) -> bool:
        """The job finished but its output files could not be stored: it is not recorded
        as finished (nothing is lost; the next poll tries again), but it keeps the job's
        id (a submit's own answer may be the first to name it) and says why it waits."""
        if self.is_terminal:
            return False
        if self.provider_job_id is not None and job_id != self.provider_job_id:
            return False
        changed = self._adopt_job(job_id, now)
        if self.pending_reason is not PendingReason.FILES_UNSTORED:
            self.pending_reason = PendingReason.FILES_UNSTORED
            changed = True
        if changed:
            self.updated_at = now
        return changed

    def _adopt_job(self, job_id: str, now: datetime) -> bool:
        if self.provider_job_id is not None:
            return False
        self.provider_job_id = job_id
        self.pending_reason = None
        self.wake_at = None
        self.updated_at = now
        return True

    def _finish_from(self, report: JobReport, status: ExecutionStatus, now: datetime) -> bool:
        return self.finish(
            status,
            now,
            output=report.output,
            message=report.error,
            execution_time_ms=report.execution_time_ms,
            queue_time_ms=report.delay_time_ms,
        )

    def record_cancel(self, report: JobReport, now: datetime) -> bool:
        """After asking the provider to cancel: record its real outcome if the job
        finished first (with its output), else CANCELLED."""
        return self.apply(report, now) or self.cancel(now)

    # --- endings ---------------------------------------------------------------------

    def finish(
        self,
        status: ExecutionStatus,
        now: datetime,
        *,
        output: Any = None,
        failure: Failure | None = None,
        message: str | None = None,
        execution_time_ms: int | None = None,
        queue_time_ms: int | None = None,
    ) -> bool:
        """Move to a terminal ``status``; False (and no change) if not allowed.

        The output is made storable here (``json_safe``) and the number of repaired
        values kept in ``output_repairs``: whatever a worker returns can be recorded.
        """
        if not status.is_terminal or not can_transition(self.status, status):
            return False
        self.status = status
        self.completed_at = now
        self.wake_at = self.queue_position = None
        self.pending_reason = None
        if execution_time_ms is not None:
            self.execution_time_ms = execution_time_ms
        if queue_time_ms is not None:
            self.queue_time_ms = queue_time_ms
        if self.started_at is None and self.execution_time_ms is not None:
            self.started_at = now - timedelta(milliseconds=self.execution_time_ms)
        if status is _S.COMPLETED:
            repairs = Repairs()
            self.output_payload = json_safe(output, repairs)
            self.output_repairs = repairs.total
            self.error_code = self.error_message = None
        else:
            reason = failure or _DEFAULT_FAILURE[status]
            self.error_code = reason.code
            text = safe_text(message)[:MAX_ERROR_CHARS] if message else None
            self.error_message = text or reason.message
        self.updated_at = now
        return True

    def replace_output(self, output: Any, now: datetime) -> bool:
        """Swap a COMPLETED execution's output for an equivalent one (its files moved to
        the file store, or files past their retention removed)."""
        if self.status is not _S.COMPLETED or output == self.output_payload:
            return False
        self.output_payload = json_safe(output)
        self.updated_at = now
        return True

    def fail(self, failure: Failure, now: datetime, message: str | None = None) -> bool:
        """FAILED with a catalogued reason."""
        return self.finish(_S.FAILED, now, failure=failure, message=message)

    def cancel(self, now: datetime) -> bool:
        """CANCELLED, unless already terminal."""
        return self.finish(_S.CANCELLED, now)

    def expire(self, now: datetime) -> bool:
        """TIMED_OUT at the deadline; a submit never confirmed fails SUBMIT_UNCONFIRMED."""
        if self.provider_job_id is None and self.submit_attempts > 0:
            return self.give_up_unconfirmed(now)
        failure = Failure.DEADLINE_EXCEEDED
        if self.provider_job_id is None:
            failure = Failure.DEADLINE_EXCEEDED_UNSENT
        return self.finish(_S.TIMED_OUT, now, failure=failure)


@dataclass(slots=True, frozen=True)
class ExecutionView:
    """An execution with the slug and title of its Tars model, for consumer responses."""

    execution: Execution
    model_slug: str
    model_title: str
