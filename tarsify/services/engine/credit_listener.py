"""Charging runs: the hold when an execution is created, the capture or release when it
ends — each in the transaction of that change, so each happens exactly once.

The hold is written in the transaction that inserts the PENDING execution
(``ExecutionService.run``; an idempotent replay returns before it, so it never holds
twice), the settlement in the transaction of the compare-and-set that ends it, whichever
process makes it (a poll, the reconciler, a webhook, a cancel). A terminal status is
final, so the change into it happens once, and the ledger's unique keys make a second
settlement impossible.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass

from tarsify.domain.credits import (
    DEFAULT_PLATFORM_FEE_PERCENT,
    Credits,
    Posting,
    Run,
    capture,
    hold,
    release,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus, RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.engine.listeners import Write

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

    async def plan_create(
        self, execution: Execution, target: RunTarget, request: RunRequest
    ) -> Write | None:
        """Hold the price, when the run has one: ``InsufficientCredits`` (402) when the
        balance is too low, which refuses the run (nothing is stored)."""
        if execution.price <= 0 or execution.consumer_id is None:
            return None  # a free run (a test run is one) holds nothing
        return functools.partial(self._hold, execution, execution.consumer_id)

    async def _hold(self, execution: Execution, consumer_id: uuid.UUID, uow: UnitOfWork) -> None:
        # The lock makes one consumer's runs take turns: the balance is read after every
        # earlier run of this consumer committed.
        credits = await uow.credits.lock(consumer_id) or Credits(0, 0)
        run = Run(execution.id, execution.tars_model_id)
        posting = hold(consumer_id, credits, execution.price, run, self._clock.now())
        await uow.credits.post(posting)

    async def plan_change(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> Write | None:
        """Settle the hold when a priced execution ends: captured when it COMPLETED,
        released when it FAILED, TIMED_OUT or was CANCELLED."""
        if not after.is_terminal or before.is_terminal or after.price <= 0:
            return None
        if after.consumer_id is None:
            return None  # nothing was held
        return functools.partial(self._settle, after, after.consumer_id)

    async def _settle(self, after: Execution, consumer_id: uuid.UUID, uow: UnitOfWork) -> None:
        now, run = self._clock.now(), Run(after.id, after.tars_model_id)
        posting: Posting
        if after.status is ExecutionStatus.COMPLETED:
            model = await uow.tars_models.get(after.tars_model_id)
            assert model is not None  # a foreign key of the execution
            fee, price = self._settings.platform_fee_percent, after.price
            posting = capture(consumer_id, model.developer_id, price, fee, run, now)
        else:
            posting = release(consumer_id, after.price, run, now)
        await uow.credits.post(posting)
        what = {"execution_id": str(after.id), "status": after.status.value, "price": after.price}
        log.info("credits.settled", extra=what)

    async def committed(self, after: Execution) -> None:
        """Nothing to tell."""
