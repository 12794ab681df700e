"""The ledger (``ledger_entries``) and the balances kept on consumers and developers."""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace

from sqlalchemy import bindparam, case, func, insert, select, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, keyset_params, keyset_template, to_values
from adapters.sql.query import Query
from adapters.sql.tables import (
    consumers,
    developers,
    executions,
    ledger_entries,
)
from tarsify.domain.credits import SIGN, AccountType, Credits, EntryType, LedgerEntry, Posting
from tarsify.domain.ledger_audit import AccountTotal, ExecutionCharge, StoredBalances
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

_ENTRY = Shape(LedgerEntry, ledger_entries)
_ID = "p_id"
# FOR NO KEY UPDATE: the new execution's foreign key holds a KEY SHARE lock on this row,
# which FOR UPDATE would conflict with (two runs would deadlock); NO KEY UPDATE does not.
_LOCK = (
    select(consumers.c.credits_balance, consumers.c.credits_held)
    .where(consumers.c.id == bindparam(_ID))
    .with_for_update(key_share=True)
)
_CREDITS = Query(
    select(consumers.c.credits_balance, consumers.c.credits_held).where(
        consumers.c.id == bindparam(_ID)
    )
)
_EARNINGS = Query(select(developers.c.earnings_balance).where(developers.c.id == bindparam(_ID)))
_INSERT = insert(ledger_entries)
_CONSUMER_CHANGE = (
    update(consumers)
    .where(consumers.c.id == bindparam(_ID))
    .values(
        credits_balance=consumers.c.credits_balance + bindparam("p_balance"),
        credits_held=consumers.c.credits_held + bindparam("p_held"),
    )
)
_DEVELOPER_CHANGE = (
    update(developers)
    .where(developers.c.id == bindparam(_ID))
    .values(earnings_balance=developers.c.earnings_balance + bindparam("p_earned"))
)


@functools.cache
def _page_template(after: bool, limit: int) -> Query:
    stmt = select(*_ENTRY.columns).where(
        ledger_entries.c.account_type == bindparam("p_type"),
        ledger_entries.c.account_id == bindparam(_ID),
    )
    return Query(
        keyset_template(
            stmt, ledger_entries.c.created_at, ledger_entries.c.id, after=after, limit=limit
        )
    )


class SqlCreditsRepository:
    """Ledger entries and balances; the database enforces the ledger's rules."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("credits.lock")
    async def lock(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's credits, its row locked until the transaction ends."""
        row = (await self._db.execute(_LOCK, {_ID: consumer_id})).first()
        return None if row is None else Credits(int(row[0]), int(row[1]))

    @guarded("credits.post")
    async def post(self, posting: Posting) -> None:
        """Insert the entries and apply their balance changes, in this transaction."""
        if not posting.entries:
            return
        # A violated constraint aborts the whole change: nothing is retried here.
        await self._db.execute(_INSERT, [to_values(e) for e in posting.entries])
        for consumer_id, (balance, held) in posting.consumer_changes().items():
            params = {_ID: consumer_id, "p_balance": balance, "p_held": held}
            await self._db.execute(_CONSUMER_CHANGE, params)
        for developer_id, earned in posting.developer_changes().items():
            await self._db.execute(_DEVELOPER_CHANGE, {_ID: developer_id, "p_earned": earned})

    @guarded("credits.credits")
    async def credits(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's balance and held credits."""
        row = await self._db.fetch_one(_CREDITS, {_ID: consumer_id})
        return None if row is None else Credits(int(row[0]), int(row[1]))

    @guarded("credits.earnings")
    async def earnings(self, developer_id: uuid.UUID) -> int | None:
        """The developer's earnings."""
        row = await self._db.fetch_one(_EARNINGS, {_ID: developer_id})
        return None if row is None else int(row[0])

    @guarded("credits.list_entries")
    async def list_entries(
        self, account_type: AccountType, account_id: uuid.UUID, page: PageRequest
    ) -> Page[LedgerEntry]:
        """One account's entries, newest first."""
        query = _page_template(page.after is not None, page.limit + 1)
        params = keyset_params(page) | {"p_type": account_type.value, _ID: account_id}
        rows = await self._db.fetch(query, params)
        items = [_ENTRY.load(row) for row in rows]
        return page_from_rows(items, page, lambda e: Cursor(e.created_at, e.id))

    @guarded("credits.audit_data")
    async def audit_data(self) -> tuple[list[AccountTotal], StoredBalances, list[ExecutionCharge]]:
        """Entry sums per account and type, stored balances, and charged executions."""
        return await self._totals(), await self._stored(), await self._charges()

    async def _totals(self) -> list[AccountTotal]:
        e = ledger_entries.c
        positive = [t.value for t in EntryType if SIGN[t] > 0]
        wrong = case(
            (e.type.in_(positive), case((e.amount <= 0, 1), else_=0)),
            else_=case((e.amount >= 0, 1), else_=0),
        )
        stmt = select(
            e.account_type, e.account_id, e.type, func.sum(e.amount), func.count(), func.sum(wrong)
        ).group_by(e.account_type, e.account_id, e.type)
        rows = (await self._db.execute(stmt)).all()
        return [
            AccountTotal(
                AccountType(r[0]), r[1], EntryType(r[2]), int(r[3]), int(r[4]), int(r[5] or 0)
            )
            for r in rows
        ]

    async def _stored(self) -> StoredBalances:
        c, d = consumers.c, developers.c
        stored = StoredBalances()
        rows = await self._db.execute(select(c.id, c.credits_balance, c.credits_held))
        for consumer_id, balance, held in rows.all():
            stored.consumers[consumer_id] = Credits(int(balance), int(held))
        rows = await self._db.execute(select(d.id, d.earnings_balance))
        stored.developers = {dev_id: int(earned) for dev_id, earned in rows.all()}
        return stored

    async def _charges(self) -> list[ExecutionCharge]:
        x, e = executions.c, ledger_entries.c
        stmt = (
            select(x.id, x.status, x.price, x.tars_model_id, e.type, e.tars_model_id)
            .add_columns(func.sum(e.amount))
            .select_from(executions.outerjoin(ledger_entries, e.execution_id == x.id))
            .where((x.price > 0) | e.id.is_not(None))
            .group_by(x.id, x.status, x.price, x.tars_model_id, e.type, e.tars_model_id)
        )
        found: dict[uuid.UUID, tuple[ExecutionCharge, set[uuid.UUID | None]]] = {}
        for execution_id, status, price, model, entry_type, named, total in (
            await self._db.execute(stmt)
        ).all():
            if execution_id not in found:
                charge = ExecutionCharge(
                    execution_id, ExecutionStatus(status), int(price), {}, model
                )
                found[execution_id] = (charge, set())
            charge, models = found[execution_id]
            if entry_type is not None:
                charge.totals[EntryType(entry_type)] = int(total)
                models.add(named)
        return [replace(charge, entry_models=frozenset(m)) for charge, m in found.values()]
