"""Tunables of the execution engine, with the derivation of provider time limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tarsify.domain.inputs import DEFAULT_MAX_INPUT_BYTES
from tarsify.domain.models import BaseModel


@dataclass(slots=True, frozen=True)
class EngineSettings:
    """Timing rules of submit, status polling and reconciliation, and run limits.

    A submit whose answer was lost is given up (SUBMIT_UNCONFIRMED) ``unconfirmed_wait_s``
    after the loss was seen, unless provider webhooks may still name its job; a submit
    still unanswered ``submit_answer_s`` after it was claimed (longer than the provider
    client lets any submit last) was cut short by a crash and is marked so; one the provider
    certainly did not take is sent again after ``resend_delay_s`` (or its Retry-After).
    An execution whose provider report cannot be recorded ``max_record_failures`` times in
    a row is failed (RESULT_UNRECORDABLE) so that it cannot hold up the others.

    A reconcile pass claims up to ``reconcile_batch`` due executions and advances at most
    ``reconcile_concurrency`` of them at once (each a provider call and a write: 16 calls
    in flight stay under RunPod's 200 status calls per second and endpoint at its usual
    latency). The next pass follows at once when a full batch moved on (sent or
    finished), after ``reconcile_busy_interval_s`` when some did, and after the
    reconciler's interval when none did.

    A job may run ``timeout_factor`` times its base model's estimate (bounded), may wait
    ``queue_allowance_s`` in the provider's queue, and is abandoned (cancelled, TIMED_OUT)
    ``deadline_grace_s`` after both have passed. An Idempotency-Key is remembered for
    ``idempotency_retention_s``: past that, the same key starts a new execution. A
    consumer may have ``max_active_executions`` unfinished executions (None: no limit); a
    process keeps a model's run target ``run_target_ttl_s`` (``RunTargets``). A run's
    inputs, merged, may be ``max_input_bytes`` of JSON (None: no limit), and checking
    them may take ``validation_budget_s`` (None: no limit). A reader of a job's stream
    holds its lease ``stream_lease_s`` (longer than any provider call lasts; a job held
    open by its process is renewed more often than that: ``HELD_HEARTBEAT_S``).
    """

    poll_min_interval_s: float = 1.0
    pending_grace_s: float = 15.0
    timeout_factor: int = 10
    min_timeout_s: int = 60
    max_timeout_s: int = 3600
    queue_allowance_s: int = 600
    deadline_grace_s: int = 60
    max_wait_s: float = 60.0
    reconcile_batch: int = 100
    reconcile_concurrency: int = 16
    reconcile_busy_interval_s: float = 0.25
    unconfirmed_wait_s: float = 120.0
    submit_answer_s: float = 90.0
    resend_delay_s: float = 5.0
    max_record_failures: int = 3
    idempotency_retention_s: float = 24 * 3600.0
    max_active_executions: int | None = None
    run_target_ttl_s: float = 1.0
    max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES
    validation_budget_s: float | None = 2.0
    stream_lease_s: float = 60.0

    def execution_timeout_ms(self, base_model: BaseModel) -> int:
        """The provider's ``executionTimeout`` for a job of ``base_model``."""
        seconds = base_model.estimated_seconds * self.timeout_factor
        return max(self.min_timeout_s, min(self.max_timeout_s, seconds)) * 1000

    def ttl_ms(self, base_model: BaseModel) -> int:
        """The provider's ``ttl`` (whole life of the job, queue included)."""
        return self.execution_timeout_ms(base_model) + self.queue_allowance_s * 1000

    def deadline(self, base_model: BaseModel) -> timedelta:
        """How long after creation an execution is given up on."""
        return timedelta(milliseconds=self.ttl_ms(base_model), seconds=self.deadline_grace_s)

    @property
    def poll_interval(self) -> timedelta:
        """``poll_min_interval_s`` as a timedelta."""
        return timedelta(seconds=self.poll_min_interval_s)
