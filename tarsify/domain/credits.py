"""Credits: prices, holds, captures and releases, and the ledger entries they write.

Money is an integer number of credits; nothing here is ever a float. Every movement is a
``LedgerEntry`` whose signed ``amount`` is its effect on one account:

- a consumer has a spendable ``balance`` and a ``held`` amount (reserved by runs not yet
  finished). GRANT adds to the balance; HOLD (negative) moves credits from the balance
  into held; RELEASE (positive) moves them back; CAPTURE (negative) takes them out of
  held for good;
- a developer has ``earnings``: EARNING (positive) adds to them;
- the platform has ``fees``: FEE (positive) adds to them.

An entry of a run (HOLD, CAPTURE, RELEASE, EARNING, FEE) names the execution and its
Tars model: a model's earnings are read from the entries alone.

``CONSUMER_EFFECTS`` is the one rule that turns entries into balances: the services use
it to update the stored balances and the audit uses it to rebuild them from the ledger.
At every moment: consumer balances + holds + developer earnings + platform fees = grants.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tarsify.domain.errors import InsufficientCredits, InvalidBody

MAX_PRICE_PER_RUN = 1_000_000
MAX_GRANT = 1_000_000_000
MAX_REASON_CHARS = 200
DEFAULT_PLATFORM_FEE_PERCENT = 20


class AccountType(StrEnum):
    """Whose money an entry moves."""

    CONSUMER = "CONSUMER"
    DEVELOPER = "DEVELOPER"
    PLATFORM = "PLATFORM"


class EntryType(StrEnum):
    """What a ledger entry records."""

    GRANT = "GRANT"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    RELEASE = "RELEASE"
    EARNING = "EARNING"
    FEE = "FEE"


# Which account each entry type belongs to, and the sign its amount always has.
ACCOUNT_OF = {
    EntryType.GRANT: AccountType.CONSUMER,
    EntryType.HOLD: AccountType.CONSUMER,
    EntryType.CAPTURE: AccountType.CONSUMER,
    EntryType.RELEASE: AccountType.CONSUMER,
    EntryType.EARNING: AccountType.DEVELOPER,
    EntryType.FEE: AccountType.PLATFORM,
}
SIGN = {
    EntryType.GRANT: 1,
    EntryType.HOLD: -1,
    EntryType.CAPTURE: -1,
    EntryType.RELEASE: 1,
    EntryType.EARNING: 1,
    EntryType.FEE: 1,
}
# A consumer entry of amount a changes (balance, held) by (a * x, a * y).
CONSUMER_EFFECTS = {
    EntryType.GRANT: (1, 0),
    EntryType.HOLD: (1, -1),
    EntryType.RELEASE: (1, -1),
    EntryType.CAPTURE: (0, 1),
}
SETTLEMENTS = frozenset({EntryType.CAPTURE, EntryType.RELEASE})


@dataclass(slots=True)
class LedgerEntry:
    """One movement of credits; entries are only ever added, never changed."""

    id: uuid.UUID
    account_type: AccountType
    account_id: uuid.UUID | None  # None for the platform
    type: EntryType
    amount: int
    execution_id: uuid.UUID | None
    tars_model_id: uuid.UUID | None  # the execution's model; None when no execution
    reason: str | None
    created_at: datetime


@dataclass(slots=True, frozen=True)
class Credits:
    """A consumer's spendable balance and the amount held by unfinished runs."""

    balance: int
    held: int


@dataclass(slots=True, frozen=True)
class Run:
    """The execution an entry is for, and the Tars model it ran."""

    execution_id: uuid.UUID
    tars_model_id: uuid.UUID


@dataclass(slots=True, frozen=True)
class Posting:
    """What one rule writes: entries, and the balance changes they make (derived)."""

    entries: tuple[LedgerEntry, ...] = ()

    def consumer_changes(self) -> dict[uuid.UUID, tuple[int, int]]:
        """Consumer id -> (balance change, held change)."""
        changes: dict[uuid.UUID, tuple[int, int]] = {}
        for entry in self.entries:
            if entry.account_type is AccountType.CONSUMER and entry.account_id is not None:
                balance, held = changes.get(entry.account_id, (0, 0))
                x, y = CONSUMER_EFFECTS[entry.type]
                changes[entry.account_id] = (balance + x * entry.amount, held + y * entry.amount)
        return changes

    def developer_changes(self) -> dict[uuid.UUID, int]:
        """Developer id -> earnings change."""
        changes: dict[uuid.UUID, int] = defaultdict(int)
        for entry in self.entries:
            if entry.account_type is AccountType.DEVELOPER and entry.account_id is not None:
                changes[entry.account_id] += entry.amount
        return dict(changes)


def entry(
    type_: EntryType,
    account_id: uuid.UUID | None,
    magnitude: int,
    now: datetime,
    *,
    run: Run | None = None,
    reason: str | None = None,
) -> LedgerEntry:
    """An entry of ``type_`` moving ``magnitude`` (> 0) credits, signed by its type."""
    if isinstance(magnitude, bool) or not isinstance(magnitude, int) or magnitude <= 0:
        raise ValueError("an entry moves a positive whole number of credits")
    return LedgerEntry(
        id=uuid.uuid4(),
        account_type=ACCOUNT_OF[type_],
        account_id=account_id,
        type=type_,
        amount=SIGN[type_] * magnitude,
        execution_id=None if run is None else run.execution_id,
        tars_model_id=None if run is None else run.tars_model_id,
        reason=reason,
        created_at=now,
    )


def effective_price(price_per_run: int, min_price_per_run: int) -> int:
    """What a run costs: the Tars model's price, never below its base model's minimum
    (a minimum raised after the price was set raises the price with it)."""
    return max(price_per_run, min_price_per_run)


def split_price(price: int, fee_percent: int) -> tuple[int, int]:
    """(developer's share, platform fee) of ``price``; the developer's share is rounded
    down, so the platform gets the remainder and nothing is lost or created."""
    if not 0 <= fee_percent <= 100:
        raise ValueError("fee_percent must be between 0 and 100")
    developer = price * (100 - fee_percent) // 100
    return developer, price - developer


def grant(consumer_id: uuid.UUID, amount: int, reason: str | None, now: datetime) -> Posting:
    """An admin gives ``amount`` credits to a consumer."""
    return Posting((entry(EntryType.GRANT, consumer_id, amount, now, reason=reason),))


def hold(consumer_id: uuid.UUID, credits: Credits, price: int, run: Run, now: datetime) -> Posting:
    """Reserve ``price`` for a new run; ``InsufficientCredits`` when the balance is lower.
    A free run holds nothing."""
    if price <= 0:
        return Posting()
    if credits.balance < price:
        raise InsufficientCredits(details={"price": price, "balance": credits.balance})
    return Posting((entry(EntryType.HOLD, consumer_id, price, now, run=run),))


def capture(
    consumer_id: uuid.UUID,
    developer_id: uuid.UUID,
    price: int,
    fee_percent: int,
    run: Run,
    now: datetime,
) -> Posting:
    """A completed run is paid: the hold is taken, the developer earns the price less
    the platform fee. Zero shares write no entry."""
    if price <= 0:
        return Posting()
    earned, fee = split_price(price, fee_percent)
    entries = [entry(EntryType.CAPTURE, consumer_id, price, now, run=run)]
    if earned:
        entries.append(entry(EntryType.EARNING, developer_id, earned, now, run=run))
    if fee:
        entries.append(entry(EntryType.FEE, None, fee, now, run=run))
    return Posting(tuple(entries))


def release(consumer_id: uuid.UUID, price: int, run: Run, now: datetime) -> Posting:
    """A run that did not complete costs nothing: its hold goes back to the balance."""
    if price <= 0:
        return Posting()
    return Posting((entry(EntryType.RELEASE, consumer_id, price, now, run=run),))


def check_price(price_per_run: int, min_price_per_run: int) -> None:
    """Refuse a Tars model price below its base model's minimum (``InvalidBody``)."""
    if not min_price_per_run <= price_per_run <= MAX_PRICE_PER_RUN:
        raise InvalidBody(
            "pricePerRun is below the base model's minimum",
            details=[
                {
                    "field": "pricePerRun",
                    "message": f"must be at least {min_price_per_run} "
                    "(the base model's minPricePerRun)",
                }
            ],
        )
