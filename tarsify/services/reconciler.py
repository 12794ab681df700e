"""The reconciler: advances every non-terminal execution, whether or not anyone polls.

Each pass claims a batch of executions not polled within the poll interval (oldest
first; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several workers share the work) and:

- sends PENDING executions whose submit was never sent (a crash after the commit, or a
  provider that could not be reached) — or, once their deadline has passed, marks them
  TIMED_OUT without sending them;
- fails PENDING executions whose submit may have been sent but was never confirmed, once
  their deadline has passed (by then the provider's ttl has ended any such job);
- polls the provider for the others, storing outputs well within its retention window;
- cancels and marks TIMED_OUT those past their deadline;
- marks FAILED (``JOB_LOST``) jobs the provider no longer knows.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from tarsify.domain.errors import StorageError, TarsifyError
from tarsify.domain.models import Execution, ExecutionStatus
from tarsify.domain.progress import (
    DEADLINE_EXCEEDED,
    SUBMIT_UNCONFIRMED,
    finish,
)
from tarsify.ports import UnitOfWorkFactory
from tarsify.services.dispatch import Dispatcher

log = logging.getLogger("tarsify.reconciler")


@dataclass(slots=True)
class PassReport:
    """What one reconcile pass did."""

    claimed: int = 0
    submitted: int = 0
    polled: int = 0
    timed_out: int = 0
    failed: int = 0
    errors: int = 0
    finished: list[str] = field(default_factory=list)


class Reconciler:
    """Runs reconcile passes; ``run_forever`` loops until cancelled, surviving outages."""

    def __init__(self, uow: UnitOfWorkFactory, dispatcher: Dispatcher) -> None:
        self._uow = uow
        self._dispatch = dispatcher

    async def run_once(self) -> PassReport:
        """Claim one batch and advance each execution in it."""
        clock, settings = self._dispatch.clock, self._dispatch.settings
        now = clock.now()
        async with self._uow() as uow:
            batch = await uow.executions.claim_due(
                now, now - settings.poll_interval, settings.reconcile_batch
            )
            await uow.commit()
        report = PassReport(claimed=len(batch))
        gate = asyncio.Semaphore(settings.reconcile_concurrency)

        async def one(execution: Execution) -> None:
            async with gate:
                try:
                    await self._advance(execution, report)
                except StorageError:
                    raise
                except TarsifyError as exc:
                    report.errors += 1
                    log.warning(
                        "reconcile.execution_failed",
                        extra={"execution_id": str(execution.id), "error": exc.message},
                    )

        await asyncio.gather(*(one(e) for e in batch))
        return report

    async def _advance(self, execution: Execution, report: PassReport) -> None:
        now = self._dispatch.clock.now()
        past_deadline = execution.deadline_at is not None and now >= execution.deadline_at
        if execution.provider_job_id is None:
            grace = self._dispatch.settings.pending_grace_s
            if execution.submit_attempts == 0 and past_deadline:
                stored, changed = await self._dispatch.transition(
                    execution.id, lambda e: _expire_unsent(e, now)
                )
                report.timed_out += int(changed)
                self._note(report, stored)
            elif execution.submit_attempts == 0:
                if (now - execution.created_at).total_seconds() >= grace:
                    stored = await self._dispatch.submit(execution)
                    report.submitted += 1
                    self._note(report, stored)
            elif past_deadline:
                stored, changed = await self._dispatch.transition(
                    execution.id,
                    lambda e: (
                        e.provider_job_id is None
                        and finish(
                            e,
                            ExecutionStatus.FAILED,
                            now,
                            error_code=SUBMIT_UNCONFIRMED,
                            error_message="The GPU provider never confirmed the job",
                        )
                    ),
                )
                report.failed += int(changed)
                self._note(report, stored)
            return
        stored = await self._dispatch.poll(execution)
        report.polled += 1
        if not stored.is_terminal and past_deadline:
            await self._dispatch.cancel_quietly(stored)
            stored, changed = await self._dispatch.transition(
                execution.id,
                lambda e: finish(
                    e,
                    ExecutionStatus.TIMED_OUT,
                    now,
                    error_code=DEADLINE_EXCEEDED,
                    error_message="The execution did not finish before its deadline",
                ),
            )
            report.timed_out += int(changed)
        self._note(report, stored)

    @staticmethod
    def _note(report: PassReport, execution: Execution) -> None:
        if execution.is_terminal:
            report.finished.append(str(execution.id))

    async def run_forever(self, interval_s: float = 2.0, max_backoff_s: float = 30.0) -> None:
        """Run passes every ``interval_s``; on storage outages back off and resume."""
        delay = interval_s
        while True:
            try:
                report = await self.run_once()
                if report.claimed:
                    log.info(
                        "reconcile.pass",
                        extra={
                            "claimed": report.claimed,
                            "submitted": report.submitted,
                            "polled": report.polled,
                            "timed_out": report.timed_out,
                            "errors": report.errors,
                        },
                    )
                delay = interval_s
            except StorageError as exc:
                delay = min(max_backoff_s, delay * 2)
                log.error(
                    "reconcile.storage_unavailable",
                    extra={"error": exc.message, "retry_in_s": delay},
                )
            except Exception:  # a bug must not stop the loop; it is logged with its traceback
                delay = min(max_backoff_s, delay * 2)
                log.exception("reconcile.crashed")
            await asyncio.sleep(delay)


def _expire_unsent(execution: Execution, now: datetime) -> bool:
    """TIMED_OUT for an execution never sent before its deadline (nothing ran)."""
    if execution.provider_job_id is not None or execution.submit_attempts != 0:
        return False
    return finish(
        execution,
        ExecutionStatus.TIMED_OUT,
        now,
        error_code=DEADLINE_EXCEEDED,
        error_message="The execution could not be sent to the GPU provider before its deadline",
    )
