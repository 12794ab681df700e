"""Credits' body and answers: an admin's grant, balances, and ledger entries."""

from __future__ import annotations

import uuid

from pydantic import Field

from tarsify.domain.credits import MAX_GRANT, MAX_REASON_CHARS, Credits, EntryType, LedgerEntry
from tarsify.services.credits import Granted

from .schemas import RequestModel, Timestamp, View


class CreditGrant(RequestModel):
    """Give credits to a consumer (admin): a positive whole amount and why."""

    amount: int = Field(ge=1, le=MAX_GRANT)
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class LedgerEntryView(View):
    """One movement of credits: amounts are signed (see API.md, Credits)."""

    id: uuid.UUID
    type: EntryType
    amount: int
    execution_id: uuid.UUID | None
    created_at: Timestamp


class CreditsView(View):
    """A consumer's spendable balance and the credits held by unfinished runs."""

    balance: int
    held: int


class EarningsView(View):
    """A developer's earnings."""

    balance: int


class GrantView(CreditsView):
    """The consumer's credits after a grant, and the grant's ledger entry."""

    uid: str
    entry: LedgerEntryView


def entry_view(entry: LedgerEntry) -> LedgerEntryView:
    """The client's view of a ledger entry."""
    return LedgerEntryView(
        id=entry.id,
        type=entry.type,
        amount=entry.amount,
        execution_id=entry.execution_id,
        created_at=entry.created_at,
    )


def credits_view(credits: Credits) -> CreditsView:
    """A consumer's balance and held credits."""
    return CreditsView(balance=credits.balance, held=credits.held)


def grant_view(granted: Granted) -> GrantView:
    """The consumer's credits after a grant, with its entry."""
    return GrantView(
        uid=granted.uid,
        balance=granted.credits.balance,
        held=granted.credits.held,
        entry=entry_view(granted.entry),
    )
