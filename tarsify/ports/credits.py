"""The credits store: balances and their ledger, written inside a ``UnitOfWork``
(see ``tarsify.ports.repositories`` for what every repository promises)."""

from __future__ import annotations

import uuid
from typing import Protocol

from tarsify.domain.credits import AccountType, Credits, LedgerEntry, Posting
from tarsify.domain.ledger_audit import AccountTotal, ExecutionCharge, StoredBalances
from tarsify.domain.pagination import Page, PageRequest


class CreditsRepository(Protocol):
    """The ledger (append-only) and the balances kept beside the accounts.

    Balances change only through ``post``, in the transaction that writes the entries;
    the database refuses a negative balance (a CHECK constraint), an entry whose sign
    does not fit its type, a second entry of one type for one execution and a second
    settlement (CAPTURE or RELEASE) of one execution.
    """

    async def lock(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's credits, its row locked until the transaction ends (``SELECT
        ... FOR NO KEY UPDATE``): this serialises one consumer's runs. None if unknown."""
        ...

    async def post(self, posting: Posting) -> None:
        """Add the posting's entries and apply their balance changes; ``AlreadyExists``
        when an entry of the same execution and type (or a second settlement) exists."""
        ...

    async def credits(self, consumer_id: uuid.UUID) -> Credits | None:
        """The consumer's balance and held credits (no lock)."""
        ...

    async def earnings(self, developer_id: uuid.UUID) -> int | None:
        """The developer's earnings."""
        ...

    async def list_entries(
        self, account_type: AccountType, account_id: uuid.UUID, page: PageRequest
    ) -> Page[LedgerEntry]:
        """One account's entries, newest first (cursor over ``created_at, id``)."""
        ...

    async def audit_data(self) -> tuple[list[AccountTotal], StoredBalances, list[ExecutionCharge]]:
        """Everything the audit reads: entry sums per account and type, the stored
        balances, and the entry sums of every execution with a price or entries."""
        ...
