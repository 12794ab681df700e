"""Charging runs: the hold when an execution is created, the capture or release when it
ends — each in the transaction of that change, so each happens exactly once.

``ExecutionService.run`` calls ``created`` in the transaction that inserts the PENDING
execution (an idempotent replay returns before it, so it never holds twice); the engine
calls ``changed`` in the transaction of every compare-and-set, whichever process makes it
(a poll, the reconciler, a webhook, a cancel). A terminal status is final, so the change
into it happens once, and the ledger's unique keys make a second settlement impossible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tarsify.domain.credits import (
    DEFAULT_PLATFORM_FEE_PERCENT,
    Credits,
    Posting,
    capture,
    hold,
    release,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus, RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("tarsify.credits")


@dataclass(slots=True, frozen=True)
class CreditSettings:
    """The platform's share of each price."""

    platform_fee_percent: int = DEFAULT_PLATFORM_FEE_PERCENT


class CreditsListener:
    """An ``ExecutionListener`` that holds, captures and releases the price of runs."""

    def __init__(self, clock: Clock, settings: CreditSettings | None = None) -> None:
        self._clock = clock
        self._settings = settings or CreditSettings()

    async def created(
        self, uow: UnitOfWork, execution: Execution, target: RunTarget, request: RunRequest
    ) -> None:
        """Hold the price: ``InsufficientCredits`` (402) when the balance is too low,
        which refuses the run (nothing is stored). A free run holds nothing."""
        if not self.writes_on_create(execution, request):
            return
        consumer_id = execution.consumer_id
        # The lock makes one consumer's runs take turns: the balance is read after every
        # earlier run of this consumer committed.
        credits = await uow.credits.lock(consumer_id) or Credits(0, 0)
        posting = hold(consumer_id, credits, execution.price, execution.id, self._clock.now())
        await uow.credits.post(posting)

    def writes_on_create(self, execution: Execution, request: RunRequest) -> bool:
        """When the run has a price to hold."""
        return execution.price > 0

    def writes_on(self, before: Execution, after: Execution) -> bool:
        """When a priced execution ends (its hold is settled)."""
        return after.is_terminal and not before.is_terminal and after.price > 0

    async def will_write(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> bool:
        """Exactly when ``writes_on`` says so."""
        return self.writes_on(before, after)

    async def changed(self, uow: UnitOfWork, before: Execution, after: Execution) -> None:
        """Settle the hold when the execution ends: captured when it COMPLETED, released
        when it FAILED, TIMED_OUT or was CANCELLED."""
        if not self.writes_on(before, after):
            return
        now = self._clock.now()
        posting: Posting
        if after.status is ExecutionStatus.COMPLETED:
            model = await uow.tars_models.get(after.tars_model_id)
            assert model is not None  # a foreign key of the execution
            fee, price = self._settings.platform_fee_percent, after.price
            posting = capture(after.consumer_id, model.developer_id, price, fee, after.id, now)
        else:
            posting = release(after.consumer_id, after.price, after.id, now)
        await uow.credits.post(posting)
        what = {"execution_id": str(after.id), "status": after.status.value, "price": after.price}
        log.info("credits.settled", extra=what)
