"""CreditsRepository contract: the ledger's rules hold on memory, SQLite and PostgreSQL,
and the SQL databases enforce them themselves."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tarsify.domain.credits import (
    AccountType,
    Credits,
    EntryType,
    LedgerEntry,
    Posting,
    Run,
    capture,
    entry,
    grant,
    hold,
    release,
)
from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.ledger_audit import audit
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Cursor, PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.conftest import factory_for
from tests.contract.factories import Catalog, add_executions, at, seed_catalog


async def post(uow_factory: UnitOfWorkFactory, *postings: Posting) -> None:
    async with uow_factory() as uow:
        for posting in postings:
            await uow.credits.post(posting)
        await uow.commit()


async def credits_of(uow_factory: UnitOfWorkFactory, cat: Catalog) -> tuple[Credits, int]:
    async with uow_factory() as uow:
        credits = await uow.credits.credits(cat.consumer.id)
        earned = await uow.credits.earnings(cat.developer.id)
    assert credits is not None and earned is not None
    return credits, earned


async def test_postings_move_balances_and_the_books_agree(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    done, failed = cat.execution(price=10), cat.execution(price=10)
    await add_executions(uow_factory, done, failed)
    consumer, developer = cat.consumer.id, cat.developer.id
    await post(uow_factory, grant(consumer, 100, "welcome", at(1)))
    await post(
        uow_factory, hold(consumer, Credits(100, 0), 10, Run(done.id, done.tars_model_id), at(2))
    )
    await post(
        uow_factory,
        hold(consumer, Credits(90, 10), 10, Run(failed.id, failed.tars_model_id), at(3)),
    )
    assert await credits_of(uow_factory, cat) == (Credits(80, 20), 0)
    async with uow_factory() as uow:
        for execution, status in (
            (done, ExecutionStatus.COMPLETED),
            (failed, ExecutionStatus.FAILED),
        ):
            execution.status = status
            assert await uow.executions.update(execution)
        await uow.credits.post(
            capture(consumer, developer, 10, 20, Run(done.id, done.tars_model_id), at(4))
        )
        await uow.credits.post(release(consumer, 10, Run(failed.id, failed.tars_model_id), at(5)))
        await uow.commit()
    assert await credits_of(uow_factory, cat) == (Credits(90, 0), 8)
    async with uow_factory() as uow:
        report = audit(*await uow.credits.audit_data())
    assert report.ok, report.problems
    assert (report.grants, report.balances, report.earnings, report.fees) == (100, 90, 8, 2)


async def test_an_accounts_ledger_pages_newest_first(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    grants = [grant(cat.consumer.id, n, f"g{n}", at(n)) for n in range(1, 6)]
    await post(uow_factory, *grants)
    seen: list[int] = []
    page = PageRequest(limit=2)
    while True:
        async with uow_factory() as uow:
            result = await uow.credits.list_entries(AccountType.CONSUMER, cat.consumer.id, page)
        seen += [e.amount for e in result.items]
        if result.next_cursor is None:
            break
        page = PageRequest(limit=2, after=Cursor.decode(result.next_cursor))
    assert seen == [5, 4, 3, 2, 1]
    [first], [second] = grants[0].entries, grants[1].entries
    after_second = PageRequest(1, Cursor(second.created_at, second.id))
    async with uow_factory() as uow:
        other = await uow.credits.list_entries(
            AccountType.DEVELOPER, cat.consumer.id, PageRequest()
        )
        last = await uow.credits.list_entries(AccountType.CONSUMER, cat.consumer.id, after_second)
    assert other.items == []
    assert [(e.id, e.reason, e.created_at) for e in last.items] == [(first.id, "g1", at(1))]


async def test_no_balance_can_go_negative(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    run = cat.execution(price=10)
    await add_executions(uow_factory, run)
    await post(uow_factory, grant(cat.consumer.id, 5, "few", at(1)))
    # A hold the rules would refuse, written anyway: the storage refuses it.
    overdraft = Posting(
        (entry(EntryType.HOLD, cat.consumer.id, 6, at(2), run=Run(run.id, run.tars_model_id)),)
    )
    with pytest.raises(StorageError):
        await post(uow_factory, overdraft)
    assert await credits_of(uow_factory, cat) == (Credits(5, 0), 0)


async def test_each_execution_is_held_once_and_settled_once(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    run = cat.execution(price=5)
    await add_executions(uow_factory, run)
    consumer = cat.consumer.id
    await post(
        uow_factory,
        grant(consumer, 100, "g", at(1)),
        hold(consumer, Credits(100, 0), 5, Run(run.id, run.tars_model_id), at(2)),
    )
    with pytest.raises(AlreadyExists):
        await post(
            uow_factory, hold(consumer, Credits(95, 5), 5, Run(run.id, run.tars_model_id), at(3))
        )
    await post(uow_factory, release(consumer, 5, Run(run.id, run.tars_model_id), at(4)))
    for again in (
        release(consumer, 5, Run(run.id, run.tars_model_id), at(5)),
        capture(consumer, cat.developer.id, 5, 20, Run(run.id, run.tars_model_id), at(5)),
    ):
        with pytest.raises(AlreadyExists):
            await post(uow_factory, again)
    assert await credits_of(uow_factory, cat) == (Credits(100, 0), 0)


async def test_an_amount_with_the_wrong_sign_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    backwards = LedgerEntry(
        uuid.uuid4(),
        AccountType.CONSUMER,
        cat.consumer.id,
        EntryType.HOLD,
        5,
        None,
        None,
        None,
        at(1),
    )
    with pytest.raises(StorageError):
        await post(uow_factory, Posting((backwards,)))
    assert await credits_of(uow_factory, cat) == (Credits(0, 0), 0)


async def test_a_missing_consumer_has_no_credits_to_lock(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.credits.lock(uuid.uuid4()) is None


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def locking_uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """Backends with row locks (SQLite has a single writer instead)."""
    return factory_for(request.param, request)


async def test_the_lock_makes_one_consumers_transactions_take_turns(
    locking_uow_factory: UnitOfWorkFactory,
) -> None:
    uow_factory = locking_uow_factory
    cat = await seed_catalog(uow_factory)
    order: list[str] = []
    async with uow_factory() as first, uow_factory() as second:
        assert await first.credits.lock(cat.consumer.id) == Credits(0, 0)
        await first.credits.post(grant(cat.consumer.id, 7, "g", at(1)))

        async def later() -> Credits | None:
            credits = await second.credits.lock(cat.consumer.id)
            order.append("second")
            return credits

        waiting = asyncio.create_task(later())
        await asyncio.sleep(0.1)
        order.append("first")
        await first.commit()
        # The second reads the balance as the first left it.
        assert await waiting == Credits(7, 0)
        await second.commit()
    assert order == ["first", "second"]


# --- what the SQL databases refuse by themselves -----------------------------------------


async def test_the_ledger_is_append_only_and_balances_are_checked(sql_engine: AsyncEngine) -> None:
    from adapters.sql.db import session_factory
    from adapters.sql.uow import SqlUnitOfWork

    sessions = session_factory(sql_engine)
    uow_factory: UnitOfWorkFactory = lambda: SqlUnitOfWork(sessions)  # noqa: E731
    cat = await seed_catalog(uow_factory)
    await post(uow_factory, grant(cat.consumer.id, 5, "g", at(1)))
    for statement in (
        "UPDATE ledger_entries SET amount = 500",
        "UPDATE consumers SET credits_balance = -1",
        "UPDATE consumers SET credits_held = -1",
        "UPDATE developers SET earnings_balance = -1",
    ):
        with pytest.raises((IntegrityError, DBAPIError)):
            async with sql_engine.begin() as connection:
                await connection.execute(text(statement))
    async with uow_factory() as uow:
        report = audit(*await uow.credits.audit_data())
    assert report.ok and report.grants == 5
    # A balance changed behind the ledger's back is found by the audit.
    async with sql_engine.begin() as connection:
        await connection.execute(text("UPDATE consumers SET credits_balance = 6"))
    async with uow_factory() as uow:
        report = audit(*await uow.credits.audit_data())
    assert not report.ok
    assert any("stored balance 6 held 0, ledger says balance 5" in p for p in report.problems)
