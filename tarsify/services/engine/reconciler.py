"""The reconciler: advances every non-terminal execution, whether or not anyone polls.

Each pass claims a batch of executions not polled within the poll interval (oldest
first; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several workers share the work) and
does what each one's ``Execution.next_step`` says: expire it past its deadline (checked
before anything else), send it if it was never sent, mark a submit that was never
answered (its process died mid-call) SUBMIT_UNCONFIRMED, give up on a submit never
confirmed, or poll the provider.

Passes follow each other as fast as they move executions on (``next_delay``): at once
while a full batch moved, soon while some did, at the configured interval when nothing
did. RunPod has no batch status call, so a pass asks about its
jobs one call each, ``reconcile_concurrency`` at a time; the writes that record what
the calls said go out together (group commit, adapters/sql/grouped.py).

One execution's trouble is that execution's problem only: an error while advancing it is
counted against it, the pass goes on with the others, and after
``max_record_failures`` failures in a row it is failed (RESULT_UNRECORDABLE). Only a
pass in which the database answers nothing at all is treated as an outage (back-off).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from tarsify.domain.errors import StorageError
from tarsify.domain.execution import Execution, Step
from tarsify.domain.failures import Failure
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.settings import EngineSettings

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
    storage_errors: int = 0
    duration_s: float = 0.0
    finished: list[str] = field(default_factory=list)


class Reconciler:
    """Runs reconcile passes; ``run_forever`` loops until cancelled, surviving outages."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: Dispatcher,
        clock: Clock,
        settings: EngineSettings,
    ) -> None:
        self._uow = uow
        self._dispatch = dispatcher
        self._clock = clock
        self._settings = settings
        self._failures: dict[uuid.UUID, int] = {}

    async def run_once(self) -> PassReport:
        """Claim one batch and advance each execution in it."""
        started = time.perf_counter()
        now = self._clock.now()
        async with self._uow() as uow:
            batch = await uow.executions.claim_due(
                now, now - self._settings.poll_interval, self._settings.reconcile_batch
            )
            await uow.commit()
        report = PassReport(claimed=len(batch))
        gate = asyncio.Semaphore(self._settings.reconcile_concurrency)

        async def one(execution: Execution) -> None:
            async with gate:
                await self._guarded(execution, report)

        await asyncio.gather(*(one(e) for e in batch))
        report.duration_s = time.perf_counter() - started
        if batch and report.storage_errors == len(batch):
            raise StorageError("The database failed for every execution of the pass")
        return report

    async def _guarded(self, execution: Execution, report: PassReport) -> None:
        """Advance one execution; its failures are counted against it alone."""
        try:
            await self._advance(execution, report)
        except Exception as exc:  # one execution must never stop the pass
            report.errors += 1
            report.storage_errors += isinstance(exc, StorageError)
            failures = self._failures.get(execution.id, 0) + 1
            self._failures[execution.id] = failures
            log.warning(
                "reconcile.execution_failed",
                extra={
                    "execution_id": str(execution.id),
                    "error": getattr(exc, "message", type(exc).__name__),
                    "failures": failures,
                },
                exc_info=not isinstance(exc, StorageError),
            )
            if failures >= self._settings.max_record_failures:
                await self._give_up(execution, report)
        else:
            self._failures.pop(execution.id, None)

    async def _give_up(self, execution: Execution, report: PassReport) -> None:
        try:
            stored = await self._dispatch.fail(execution.id, Failure.RESULT_UNRECORDABLE)
        except Exception:  # still failing: the next pass tries again
            log.exception("reconcile.give_up_failed", extra={"execution_id": str(execution.id)})
            return
        self._failures.pop(execution.id, None)
        report.failed += 1
        self._note(report, stored)

    async def _advance(self, execution: Execution, report: PassReport) -> None:
        step = execution.next_step(self._clock.now())
        if step is Step.NOTHING:
            return
        if step is Step.EXPIRE:
            stored = await self._dispatch.expire(execution)
            report.timed_out += int(stored.status is ExecutionStatus.TIMED_OUT)
            report.failed += int(stored.status is ExecutionStatus.FAILED)
        elif step is Step.SEND:
            stored = await self._dispatch.submit(execution)
            report.submitted += 1
        elif step is Step.UNCONFIRMED:
            now = self._clock.now()
            give_up_at = self._dispatch.give_up_at(execution, now)
            stored, _ = await self._dispatch.store(
                execution.id, lambda e: e.mark_unconfirmed(now, give_up_at), known=execution
            )
        elif step is Step.GIVE_UP:
            now = self._clock.now()
            stored, changed = await self._dispatch.store(
                execution.id, lambda e: e.give_up_unconfirmed(now)
            )
            report.failed += int(changed)
        else:
            stored = await self._dispatch.poll(execution)
            report.polled += 1
        self._note(report, stored)

    @staticmethod
    def _note(report: PassReport, execution: Execution) -> None:
        if execution.is_terminal:
            report.finished.append(str(execution.id))

    def next_delay(self, report: PassReport, interval_s: float) -> float:
        """Seconds before the pass after ``report``, by what it achieved. Executions moved
        on (sent, or finished) in a full batch: none, more are due; in a smaller one: the
        busy interval, runs are arriving. Nothing moved (every job still running, or
        nothing due): ``interval_s``, so jobs that run long are not asked about more often
        than before."""
        progress = report.submitted + len(report.finished)
        if not progress:
            return interval_s
        if report.claimed >= self._settings.reconcile_batch:
            return 0.0
        return min(interval_s, self._settings.reconcile_busy_interval_s)

    async def run_forever(self, interval_s: float = 2.0, max_backoff_s: float = 30.0) -> None:
        """Run passes (``next_delay`` apart, ``interval_s`` at most); on storage outages
        back off and resume."""
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
                delay = self.next_delay(report, interval_s)
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
