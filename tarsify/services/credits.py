"""Credits use cases: admin grants, balances and ledgers, and the ledger audit.

What runs cost is charged by ``CreditsListener`` (``credit_listener.py``), inside the
transactions of the execution engine.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from tarsify.domain.credits import MAX_GRANT, AccountType, Credits, LedgerEntry, grant
from tarsify.domain.errors import InvalidBody, NotFound, UserNotRegistered
from tarsify.domain.ledger_audit import AuditReport, audit
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWorkFactory

log = logging.getLogger("tarsify.credits")


@dataclass(slots=True, frozen=True)
class Granted:
    """A grant's entry and the consumer's credits after it."""

    uid: str
    entry: LedgerEntry
    credits: Credits


class CreditsService:
    """Grants credits, shows balances and ledgers, and audits the books."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def grant(self, uid: str, amount: int, reason: str | None) -> Granted:
        """Give ``amount`` credits to the consumer with this uid (``NotFound`` if none)."""
        if not 1 <= amount <= MAX_GRANT:
            raise InvalidBody(
                details=[{"field": "amount", "message": f"must be between 1 and {MAX_GRANT}"}]
            )
        async with self._uow() as uow:
            consumer = await uow.consumers.get_by_uid(uid)
            if consumer is None:
                raise NotFound("Consumer not found")
            await uow.credits.lock(consumer.id)
            posting = grant(consumer.id, amount, reason, self._clock.now())
            await uow.credits.post(posting)
            # Read back in the transaction: exact even where the lock is not a row lock.
            after = await uow.credits.credits(consumer.id) or Credits(amount, 0)
            await uow.commit()
        log.info("credits.granted", extra={"consumer_id": str(consumer.id), "amount": amount})
        return Granted(uid, posting.entries[0], after)

    async def consumer_credits(self, consumer_id: uuid.UUID) -> Credits:
        """The consumer's spendable balance and held credits."""
        async with self._uow() as uow:
            credits = await uow.credits.credits(consumer_id)
        if credits is None:
            raise UserNotRegistered()
        return credits

    async def developer_earnings(self, developer_id: uuid.UUID) -> int:
        """The developer's earnings."""
        async with self._uow() as uow:
            earnings = await uow.credits.earnings(developer_id)
        if earnings is None:
            raise UserNotRegistered()
        return earnings

    async def ledger(
        self, account_type: AccountType, account_id: uuid.UUID, page: PageRequest
    ) -> Page[LedgerEntry]:
        """One account's ledger entries, newest first."""
        async with self._uow() as uow:
            return await uow.credits.list_entries(account_type, account_id, page)

    async def audit(self) -> AuditReport:
        """Rebuild every balance from the ledger and compare (``tarsify ledger check``)."""
        async with self._uow() as uow:
            totals, stored, charges = await uow.credits.audit_data()
        return audit(totals, stored, charges)
