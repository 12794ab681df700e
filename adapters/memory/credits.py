"""In-memory ledger and balances, with the database's constraints imitated."""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from typing import Any

from adapters.memory.repositories import Repository, keyset
from tarsify.domain.credits import SIGN, AccountType, Credits, EntryType, LedgerEntry, Posting
from tarsify.domain.errors import StorageError
from tarsify.domain.ledger_audit import AccountTotal, ExecutionCharge, StoredBalances
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Page, PageRequest


class MemoryCreditsRepository(Repository):
    """Rows of ``ledger_entries``; balances on the consumer and developer rows."""

    table = "ledger_entries"

    async def lock(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's credits, its row locked until the unit of work ends."""
        self._tx.check()
        if self._tx.row("consumers", consumer_id) is None:
            return None
        await self._tx.lock("consumers", consumer_id)
        row = self._tx.row("consumers", consumer_id)
        return Credits(row.credits_balance, row.credits_held)

    async def post(self, posting: Posting) -> None:
        """Add the entries and apply the balance changes they make."""
        for entry in posting.entries:
            if entry.amount * SIGN[entry.type] <= 0:
                raise StorageError()  # the CHECK on the amount's sign
            self._tx.put(self.table, entry, insert=True)
        for consumer_id, (balance, held) in posting.consumer_changes().items():
            await self._change("consumers", consumer_id, credits_balance=balance, credits_held=held)
        for developer_id, earned in posting.developer_changes().items():
            await self._change("developers", developer_id, earnings_balance=earned)

    async def _change(self, table: str, row_id: uuid.UUID, **deltas: int) -> None:
        self._tx.check()
        if self._tx.row(table, row_id) is None:
            return  # like an UPDATE matching no row
        await self._tx.lock(table, row_id)
        row = copy.deepcopy(self._tx.row(table, row_id))
        for name, delta in deltas.items():
            value = getattr(row, name) + delta
            if value < 0:
                raise StorageError()  # the CHECK constraint: no negative balance
            setattr(row, name, value)
        self._tx.put(table, row, insert=False)

    async def credits(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's balance and held credits."""
        self._tx.check()
        row = self._tx.row("consumers", consumer_id)
        return None if row is None else Credits(row.credits_balance, row.credits_held)

    async def earnings(self, developer_id: uuid.UUID) -> int | None:
        """The developer's earnings."""
        self._tx.check()
        row = self._tx.row("developers", developer_id)
        return None if row is None else int(row.earnings_balance)

    async def list_entries(
        self, account_type: AccountType, account_id: uuid.UUID, page: PageRequest
    ) -> Page[LedgerEntry]:
        """One account's entries, newest first."""
        rows = [
            copy.deepcopy(e)
            for e in self._rows()
            if e.account_type is account_type and e.account_id == account_id
        ]
        return keyset(rows, page, lambda e: (e.created_at, e.id))

    async def audit_data(self) -> tuple[list[AccountTotal], StoredBalances, list[ExecutionCharge]]:
        """Sums of the entries, the stored balances and every charged execution."""
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
        by_execution: dict[uuid.UUID, dict[EntryType, int]] = defaultdict(dict)
        named: dict[uuid.UUID, set[uuid.UUID | None]] = defaultdict(set)
        for e in self._rows():
            group = groups[(e.account_type, e.account_id, e.type)]
            group[0] += e.amount
            group[1] += 1
            group[2] += int(e.amount * SIGN[e.type] <= 0)
            if e.execution_id is not None:
                sums = by_execution[e.execution_id]
                sums[e.type] = sums.get(e.type, 0) + e.amount
                named[e.execution_id].add(e.tars_model_id)
        totals = [AccountTotal(*key, *values) for key, values in groups.items()]
        stored = StoredBalances(
            {c.id: Credits(c.credits_balance, c.credits_held) for c in self._all("consumers")},
            {d.id: d.earnings_balance for d in self._all("developers")},
        )
        charges = [
            ExecutionCharge(
                x.id,
                ExecutionStatus(x.status),
                x.price,
                by_execution.get(x.id, {}),
                x.tars_model_id,
                frozenset(named.get(x.id, ())),
            )
            for x in self._all("executions")
            if x.price > 0 or x.id in by_execution
        ]
        return totals, stored, charges

    def _all(self, table: str) -> list[Any]:
        self._tx.check()
        return list(self._tx.rows(table).values())
