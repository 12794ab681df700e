"""Credits under real concurrent transactions on PostgreSQL.

Two engines on one database stand in for two processes (``test_engine_postgres``). The
runs race each other for one consumer's balance and for the active-executions limit;
pollers, reconcilers and a cancel race for each run's end. Afterwards the balances must be
exactly right and ``tarsify ledger check`` (the real command) must agree with them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.clock import SystemClock
from adapters.memory.clock import ManualClock
from tarsify.domain.credits import AccountType, Credits, EntryType
from tarsify.domain.errors import (
    ExecutionNotCancellable,
    InsufficientCredits,
    TooManyActiveExecutions,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tarsify.ports.clock import Clock
from tarsify.services.credits import CreditsService
from tarsify.services.engine.credit_listener import CreditSettings, CreditsListener
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.reconciler import Reconciler
from tarsify.services.engine.settings import EngineSettings
from tests.contract.engine_world import (
    IMAGE,
    Db,
    Process,
    SqlWorld,
    open_db,
    sql_world,
)
from tests.pg import migrated_postgres

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
PRICE = 10
EAGER = EngineSettings(poll_min_interval_s=0.0)


@pytest.fixture(scope="module")
def credits_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, migrated to head."""
    yield from migrated_postgres()


@pytest.fixture
async def pg(credits_pg_url: str) -> Any:
    database = await open_db(credits_pg_url)
    yield database
    await database.release()


async def paid_world(
    db: Db, clock: Clock, *, grant: int, price: int = PRICE, max_active: int = 10
) -> tuple[SqlWorld, Process, CreditsService]:
    """A world on PostgreSQL whose model costs ``price``, Alice granted ``grant`` credits,
    and a second process on the same database; both charge runs."""
    listeners = Listeners([CreditsListener(clock, CreditSettings(20))])
    settings = dataclasses.replace(EAGER, max_active_executions=max_active)
    w = await sql_world(db, clock=clock, settings=settings, listeners=listeners)  # type: ignore[arg-type]
    async with w.store.unit_of_work() as uow:
        model = await uow.tars_models.get(w.model.id)
        assert model is not None
        model.price_per_run = price
        await uow.tars_models.update(model)
        await uow.commit()
    store = db.store()
    dispatcher = Dispatcher(store.unit_of_work, w.gpu, clock, w.settings, None, None, listeners)
    second = Process(
        dispatcher,
        ExecutionService(store.unit_of_work, dispatcher, clock, w.settings, listeners),
        Reconciler(store.unit_of_work, dispatcher, clock, w.settings),
    )
    credits = CreditsService(w.store.unit_of_work, clock)
    if grant:
        await credits.grant("alice", grant, "test")
    return w, second, credits


async def ledger_check(db: Db) -> tuple[int, str]:
    """Run ``tarsify ledger check`` on the database; its exit status and output."""
    # The server is shared: give back the idle connections of this test's pools first.
    await db.release()
    env = os.environ | {"DATABASE_URL": db.url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "entrypoints.cli", "ledger", "check",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_forty_concurrent_runs_spend_a_balance_of_ten_runs_exactly(pg: Db) -> None:
    # The limit of unfinished executions (checked with the insert, before the hold) is
    # set out of the way: this is about the balance.
    w, second, credits = await paid_world(pg, SystemClock(), grant=10 * PRICE, max_active=100)
    w.gpu.latency["submit"] = 0.01
    services = [w.executions, second.executions] * 20
    outcomes = await asyncio.gather(
        *(
            s.run(RunRequest(w.alice.id, w.model.slug, {"prompt": f"p{i}"}))
            for i, s in enumerate(services)
        ),
        return_exceptions=True,
    )
    ran = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(ran), len(refused)) == (10, 30), [o for o in outcomes if isinstance(o, Exception)]
    assert await w.count_executions() == 10
    assert w.gpu.calls["submit"] == 10
    assert await credits.consumer_credits(w.alice.id) == Credits(0, 10 * PRICE)
    # Never negative: replayed in the order the lock let them through, the balance
    # only ever went down to zero (and the database refuses anything below).
    page = await credits.ledger(AccountType.CONSUMER, w.alice.id, PageRequest(100))
    balance, lowest = 0, 0
    for entry in reversed(page.items):
        balance += entry.amount
        lowest = min(lowest, balance)
    assert (balance, lowest) == (0, 0)
    assert [e.type for e in page.items].count(EntryType.HOLD) == 10
    checked = await ledger_check(pg)
    assert checked == (0, await ledger_check_ok_text(credits)), checked[1]


async def ledger_check_ok_text(credits: CreditsService) -> str:
    report = await credits.audit()
    assert report.ok, report.problems
    return (
        f"ledger: {report.entries} entries; grants {report.grants} = balances "
        f"{report.balances} + held {report.held} + earnings {report.earnings} "
        f"+ fees {report.fees}\nok: every balance rebuilt from the ledger matches the stored one\n"
    )


async def test_concurrent_replays_of_one_key_hold_once(pg: Db) -> None:
    w, second, credits = await paid_world(pg, SystemClock(), grant=100)
    w.gpu.latency["submit"] = 0.02
    services = [w.executions, second.executions] * 4
    results = await asyncio.gather(
        *(
            s.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k"))
            for s in services
        )
    )
    assert len({r.view.execution.id for r in results}) == 1
    assert await credits.consumer_credits(w.alice.id) == Credits(90, 10)
    page = await credits.ledger(AccountType.CONSUMER, w.alice.id, PageRequest())
    assert [e.type for e in page.items] == [EntryType.HOLD, EntryType.GRANT]


async def test_forty_concurrent_runs_never_exceed_the_active_limit(pg: Db) -> None:
    w, second, _ = await paid_world(pg, SystemClock(), grant=0, price=0, max_active=10)
    services = [w.executions, second.executions] * 20
    outcomes = await asyncio.gather(
        *(s.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"})) for s in services),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 10
    assert sum(isinstance(o, TooManyActiveExecutions) for o in outcomes) == 30
    assert await w.count_executions() == 10


EXPECTED = {
    "COMPLETED": {ExecutionStatus.COMPLETED},
    # A cancel racing a failure or a deadline may get there first; either way it is free.
    "FAILED": {ExecutionStatus.FAILED, ExecutionStatus.CANCELLED},
    "TIMED_OUT": {ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED},
    "CANCELLED": {ExecutionStatus.CANCELLED},
}


async def _race_to_the_end(
    w: SqlWorld, second: Process, clock: ManualClock, outcome: str
) -> Execution:
    """Start a run, script the provider for ``outcome``, then let two pollers, two
    reconcilers and a cancel race to record its end."""
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    job = e.provider_job_id
    assert job is not None
    if outcome == "COMPLETED":
        w.gpu.set_status(job, "COMPLETED", output=IMAGE)
    elif outcome == "FAILED":
        w.gpu.set_status(job, "FAILED", error="worker crashed")
    elif outcome == "TIMED_OUT":
        w.gpu.set_status(job, "IN_PROGRESS")
        clock.advance(w.settings.deadline(w.base).total_seconds() + 1)
    w.gpu.latency["status"] = w.gpu.latency["cancel"] = 0.01
    racers: list[Any] = [
        w.executions.get(w.alice.id, e.id),
        second.executions.get(w.alice.id, e.id),
        w.reconciler.run_once(),
        second.reconciler.run_once(),
    ]
    if outcome != "COMPLETED":  # a cancel racing a completion is covered by the engine
        racers.append(second.executions.cancel(w.alice.id, e.id))
    results = await asyncio.gather(*racers, return_exceptions=True)
    unexpected = [
        r
        for r in results
        if isinstance(r, Exception) and not isinstance(r, ExecutionNotCancellable)
    ]
    assert unexpected == []
    w.gpu.latency["status"] = w.gpu.latency["cancel"] = 0.0
    stored: Execution = await w.stored(e.id)
    return stored


@pytest.mark.parametrize("outcome", list(EXPECTED))
async def test_racing_writers_settle_each_run_once_with_the_right_balances(
    pg: Db, outcome: str
) -> None:
    clock = ManualClock()
    w, second, credits = await paid_world(pg, clock, grant=100)
    for n in range(1, 4):
        stored = await _race_to_the_end(w, second, clock, outcome)
        assert stored.status in EXPECTED[outcome], stored.status
        charged = n * PRICE if outcome == "COMPLETED" else 0
        assert await credits.consumer_credits(w.alice.id) == Credits(100 - charged, 0)
        assert await credits.developer_earnings(w.developer.id) == n * 8 * (outcome == "COMPLETED")
        page = await credits.ledger(AccountType.CONSUMER, w.alice.id, PageRequest(100))
        settled = [x.type for x in page.items if x.execution_id == stored.id]
        assert sorted(settled) == sorted(
            [EntryType.HOLD, EntryType.CAPTURE if outcome == "COMPLETED" else EntryType.RELEASE]
        )
    status, output = await ledger_check(pg)
    assert status == 0, output
    assert "grants 100 =" in output


async def test_ledger_check_exits_non_zero_on_any_difference(pg: Db) -> None:
    w, _, credits = await paid_world(pg, SystemClock(), grant=30)
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert (await ledger_check(pg))[0] == 0
    engine = pg.store().sessions.engine  # type: ignore[attr-defined]
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE consumers SET credits_held = credits_held + 1"))
    status, output = await ledger_check(pg)
    assert status == 1, output
    assert "DIFFERENCE consumer" in output and "held 11, ledger says balance 20 held 10" in output
    assert not (await credits.audit()).ok
