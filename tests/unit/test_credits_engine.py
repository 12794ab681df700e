"""Runs are paid for: holds, captures and releases through the engine, on the fakes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from adapters.memory.clock import ManualClock
from tarsify.domain.credits import AccountType, Credits, EntryType
from tarsify.domain.errors import (
    GpuProviderError,
    InsufficientCredits,
    ProviderOutcome,
    TooManyActiveExecutions,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tarsify.services.credits import CreditsService
from tarsify.services.engine.credit_listener import CreditSettings, CreditsListener
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.settings import EngineSettings
from tests.unit.world import World, make_world

IMAGE = {"images": ["data:image/png;base64,AAAA"], "seed": 1}
PRICE = 10


class TickingClock(ManualClock):
    """A manual clock that also moves on a millisecond at every reading, so that the
    entries of successive transactions are ordered."""

    def now(self) -> datetime:
        return self.advance(0.001)


@dataclass
class Paid:
    """A world whose model costs ``PRICE`` credits, with the credits service."""

    w: World
    credits: CreditsService
    clock: ManualClock

    async def run(self, **kw: Any) -> Execution:
        result = await self.w.executions.run(
            RunRequest(self.w.alice.id, self.w.model.slug, {"prompt": "x"}, **kw)
        )
        return result.view.execution

    async def alice(self) -> Credits:
        return await self.credits.consumer_credits(self.w.alice.id)

    async def earned(self) -> int:
        return await self.credits.developer_earnings(self.w.developer.id)

    async def alice_entries(self) -> list[tuple[EntryType, int]]:
        page = await self.credits.ledger(AccountType.CONSUMER, self.w.alice.id, PageRequest(100))
        return [(e.type, e.amount) for e in reversed(page.items)]

    async def books_agree(self) -> bool:
        report = await self.credits.audit()
        assert report.ok, report.problems
        return True


async def paid_world(
    *, price: int = PRICE, grant: int = 100, max_active: int = 10, fee: int = 20
) -> Paid:
    clock = TickingClock()
    listener = CreditsListener(clock, CreditSettings(fee))
    settings = EngineSettings(poll_min_interval_s=0.0, max_active_executions=max_active)
    w = await make_world(clock, listeners=Listeners([listener]), settings=settings)
    await w.studio.update(w.developer.id, w.model.id, {"price_per_run": price})
    credits = CreditsService(w.store.unit_of_work, clock)
    if grant:
        await credits.grant("alice", grant, "welcome")
    return Paid(w, credits, clock)


async def test_a_run_holds_its_price_and_a_completion_pays_the_developer() -> None:
    p = await paid_world()
    e = await p.run()
    assert e.price == PRICE
    assert await p.alice() == Credits(90, 10)
    p.w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    view = await p.w.executions.get(p.w.alice.id, e.id)
    assert view.execution.status is ExecutionStatus.COMPLETED
    assert await p.alice() == Credits(90, 0)
    assert await p.earned() == 8  # 10 less the 20 % fee
    assert await p.alice_entries() == [
        (EntryType.GRANT, 100),
        (EntryType.HOLD, -10),
        (EntryType.CAPTURE, -10),
    ]
    page = await p.credits.ledger(AccountType.DEVELOPER, p.w.developer.id, PageRequest())
    assert [(x.type, x.amount, x.execution_id) for x in page.items] == [
        (EntryType.EARNING, 8, e.id)
    ]
    assert await p.books_agree()


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED_BY_CONSUMER", "TIMED_OUT"])
async def test_a_run_that_does_not_complete_costs_nothing(outcome: str) -> None:
    p = await paid_world()
    e = await p.run()
    if outcome == "FAILED":
        p.w.gpu.set_status(e.provider_job_id, "FAILED", error="out of memory")
        await p.w.executions.get(p.w.alice.id, e.id)
    elif outcome == "CANCELLED_BY_CONSUMER":
        await p.w.executions.cancel(p.w.alice.id, e.id)
    else:
        p.w.gpu.set_status(e.provider_job_id, "IN_PROGRESS")
        p.clock.advance(p.w.settings.deadline(p.w.base).total_seconds() + 1)
        await p.w.reconciler.run_once()
    stored = await p.w.stored(e.id)
    assert stored.is_terminal and stored.status is not ExecutionStatus.COMPLETED
    assert await p.alice() == Credits(100, 0)
    assert await p.earned() == 0
    assert (await p.alice_entries())[-1] == (EntryType.RELEASE, 10)
    assert await p.books_agree()


@pytest.mark.parametrize("withdrawn", ["endpoint", "base model", "model"])
async def test_a_pending_run_whose_model_was_withdrawn_is_never_sent_nor_charged(
    withdrawn: str,
) -> None:
    p = await paid_world()
    p.w.gpu.fail_next(
        "submit", GpuProviderError("connection refused", outcome=ProviderOutcome.NOT_SENT)
    )
    e = await p.run()
    assert (e.status, await p.alice()) == (ExecutionStatus.PENDING, Credits(90, 10))
    if withdrawn == "endpoint":
        await p.w.catalog.deactivate_endpoint(p.w.endpoint.id)
    elif withdrawn == "base model":
        await p.w.catalog.deactivate_base_model(p.w.base.id)
    else:
        await p.w.studio.archive(p.w.developer.id, p.w.model.id)
    p.clock.advance(p.w.settings.pending_grace_s + p.w.settings.run_target_ttl_s + 1)
    await p.w.reconciler.run_once()
    stored = await p.w.stored(e.id)
    assert (stored.status, stored.error_code) == (ExecutionStatus.FAILED, "MODEL_UNAVAILABLE")
    assert p.w.gpu.jobs == {} and p.w.gpu.calls["submit"] == 1  # the refused first try
    assert await p.alice() == Credits(100, 0)
    assert await p.earned() == 0
    assert await p.books_agree()


async def test_a_balance_too_low_stores_nothing_and_calls_no_provider() -> None:
    p = await paid_world(grant=PRICE - 1)
    with pytest.raises(InsufficientCredits) as refused:
        await p.run()
    assert refused.value.details == {"price": PRICE, "balance": PRICE - 1}
    assert await p.w.count_executions() == 0
    assert p.w.gpu.calls["submit"] == 0
    assert await p.alice() == Credits(PRICE - 1, 0)
    assert await p.books_agree()


async def test_an_idempotent_replay_never_holds_twice() -> None:
    p = await paid_world(grant=PRICE)
    first = await p.run(idempotency_key="k")
    assert await p.alice() == Credits(0, PRICE)
    # The balance cannot pay for another run: a replay is answered anyway, holding nothing.
    again = await p.w.executions.run(
        RunRequest(p.w.alice.id, p.w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    assert again.replayed and again.view.execution.id == first.id
    assert await p.alice() == Credits(0, PRICE)
    assert [t for t, _ in await p.alice_entries()] == [EntryType.GRANT, EntryType.HOLD]
    assert await p.books_agree()


async def test_concurrent_runs_spend_the_balance_exactly() -> None:
    # The limit of unfinished executions would refuse the 11th first (it is checked with
    # the insert, before the hold): it is set out of the way here.
    p = await paid_world(grant=10 * PRICE, max_active=100)
    outcomes = await asyncio.gather(*(p.run() for _ in range(40)), return_exceptions=True)
    stored = [o for o in outcomes if isinstance(o, Execution)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(stored), len(refused)) == (10, 30), outcomes
    assert await p.w.count_executions() == 10
    assert await p.alice() == Credits(0, 10 * PRICE)
    assert await p.books_agree()


async def test_the_active_executions_limit_refuses_one_more_run() -> None:
    p = await paid_world(price=0, grant=0, max_active=2)
    first = await p.run()
    await p.run()
    with pytest.raises(TooManyActiveExecutions) as refused:
        await p.run()
    assert refused.value.code == "ERR_4290"
    assert refused.value.retry_after == p.w.base.estimated_seconds
    assert refused.value.details == {"limit": 2, "retryAfterSeconds": p.w.base.estimated_seconds}
    assert await p.w.count_executions() == 2
    # Once one finishes there is room again (free runs need no credits).
    await p.w.executions.cancel(p.w.alice.id, first.id)
    await p.run()
    assert await p.w.count_executions() == 3


async def test_concurrent_runs_never_exceed_the_limit() -> None:
    p = await paid_world(price=0, grant=0, max_active=10)
    outcomes = await asyncio.gather(*(p.run() for _ in range(40)), return_exceptions=True)
    assert sum(isinstance(o, Execution) for o in outcomes) == 10
    assert sum(isinstance(o, TooManyActiveExecutions) for o in outcomes) == 30
    assert await p.w.count_executions() == 10


async def test_the_held_price_is_what_is_charged_whatever_the_price_becomes() -> None:
    p = await paid_world()
    e = await p.run()
    await p.w.studio.update(p.w.developer.id, p.w.model.id, {"price_per_run": 50})
    p.w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    await p.w.executions.get(p.w.alice.id, e.id)
    assert await p.alice() == Credits(90, 0)
    assert await p.books_agree()


async def test_a_raised_minimum_raises_the_price_of_cheaper_models() -> None:
    p = await paid_world(price=2)
    await p.w.catalog.update_base_model(p.w.base.id, {"min_price_per_run": 5})
    e = await p.run()
    assert e.price == 5
    assert await p.alice() == Credits(95, 5)


async def test_a_grant_to_an_unknown_consumer_is_not_found() -> None:
    p = await paid_world(grant=0)
    from tarsify.domain.errors import NotFound

    with pytest.raises(NotFound):
        await p.credits.grant("nobody", 5, "x")
    assert (await p.credits.audit()).grants == 0


async def test_unknown_accounts_have_no_balance() -> None:
    p = await paid_world(grant=0)
    from tarsify.domain.errors import UserNotRegistered

    with pytest.raises(UserNotRegistered):
        await p.credits.consumer_credits(uuid.uuid4())
    with pytest.raises(UserNotRegistered):
        await p.credits.developer_earnings(uuid.uuid4())
