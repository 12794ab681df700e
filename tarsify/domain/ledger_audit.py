"""The ledger audit: rebuild every balance from the entries alone and compare.

An auditor needs nothing but the ledger: the stored balances are a cache the audit
checks, never a source. ``audit`` is pure; the ``CreditsRepository`` hands it the sums
of the entries, the stored balances and what each charged execution wrote.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from tarsify.domain.credits import (
    ACCOUNT_OF,
    CONSUMER_EFFECTS,
    SIGN,
    AccountType,
    Credits,
    EntryType,
)
from tarsify.domain.models import ExecutionStatus


@dataclass(slots=True, frozen=True)
class AccountTotal:
    """The sum and number of one account's entries of one type."""

    account_type: AccountType
    account_id: uuid.UUID | None
    type: EntryType
    total: int
    count: int
    # Entries of this group whose amount has the wrong sign (the database refuses them).
    wrong_sign: int = 0


@dataclass(slots=True, frozen=True)
class ExecutionCharge:
    """An execution with a price or with entries: its status, price and entry sums, and
    the Tars models its entries name (each must be the execution's)."""

    execution_id: uuid.UUID
    status: ExecutionStatus
    price: int
    totals: dict[EntryType, int]
    tars_model_id: uuid.UUID | None = None
    entry_models: frozenset[uuid.UUID | None] = frozenset()


@dataclass(slots=True)
class StoredBalances:
    """The balances as stored next to the accounts."""

    consumers: dict[uuid.UUID, Credits] = field(default_factory=dict)
    developers: dict[uuid.UUID, int] = field(default_factory=dict)


@dataclass(slots=True)
class AuditReport:
    """What the audit found: ``problems`` is empty when the books agree."""

    problems: list[str]
    entries: int
    grants: int
    balances: int
    held: int
    earnings: int
    fees: int

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.problems


def _rebuild(
    totals: list[AccountTotal], problems: list[str]
) -> tuple[dict[uuid.UUID, list[int]], dict[uuid.UUID, int], int, int]:
    """Consumer (balance, held), developer earnings, fees and grants from the entries."""
    consumers: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    developers: dict[uuid.UUID, int] = defaultdict(int)
    fees = grants = 0
    for t in totals:
        if ACCOUNT_OF[t.type] is not t.account_type:
            problems.append(f"{t.count} {t.type} entries on a {t.account_type} account")
            continue
        if t.wrong_sign or SIGN[t.type] * t.total < 0:
            problems.append(f"{t.type} entries with the wrong sign on {t.account_id}")
        if t.account_type is AccountType.CONSUMER and t.account_id is not None:
            x, y = CONSUMER_EFFECTS[t.type]
            consumers[t.account_id][0] += x * t.total
            consumers[t.account_id][1] += y * t.total
            grants += t.total if t.type is EntryType.GRANT else 0
        elif t.account_type is AccountType.DEVELOPER and t.account_id is not None:
            developers[t.account_id] += t.total
        elif t.account_type is AccountType.PLATFORM and t.account_id is None:
            fees += t.total
        else:
            problems.append(f"{t.count} {t.type} entries without a valid account")
    return consumers, developers, fees, grants


def _compare(
    stored: StoredBalances,
    consumers: dict[uuid.UUID, list[int]],
    developers: dict[uuid.UUID, int],
    problems: list[str],
) -> None:
    for consumer_id in sorted(consumers.keys() | stored.consumers.keys()):
        balance, held = consumers.get(consumer_id, [0, 0])
        kept = stored.consumers.get(consumer_id)
        if kept is None:
            problems.append(f"consumer {consumer_id}: entries for an unknown consumer")
        elif (kept.balance, kept.held) != (balance, held):
            problems.append(
                f"consumer {consumer_id}: stored balance {kept.balance} held {kept.held}, "
                f"ledger says balance {balance} held {held}"
            )
        if balance < 0 or held < 0:
            problems.append(f"consumer {consumer_id}: the ledger gives a negative amount")
    for developer_id in sorted(developers.keys() | stored.developers.keys()):
        earned = developers.get(developer_id, 0)
        kept_earnings = stored.developers.get(developer_id)
        if kept_earnings is None:
            problems.append(f"developer {developer_id}: entries for an unknown developer")
        elif kept_earnings != earned:
            problems.append(
                f"developer {developer_id}: stored earnings {kept_earnings}, ledger says {earned}"
            )


def _check_execution(charge: ExecutionCharge, problems: list[str]) -> None:
    """Its entries name its model; one hold of the price; once terminal exactly one
    settlement of the right kind."""
    t = charge.totals
    name = f"execution {charge.execution_id}"
    if charge.entry_models - {charge.tars_model_id}:
        problems.append(f"{name}: entries name another Tars model than the execution's")
    held, captured, released = (
        -t.get(EntryType.HOLD, 0),
        -t.get(EntryType.CAPTURE, 0),
        t.get(EntryType.RELEASE, 0),
    )
    paid = t.get(EntryType.EARNING, 0) + t.get(EntryType.FEE, 0)
    if held != charge.price:
        problems.append(f"{name}: price {charge.price}, held {held}")
    if not charge.status.is_terminal:
        if captured or released or paid:
            problems.append(f"{name}: settled while {charge.status}")
        return
    if charge.status is ExecutionStatus.COMPLETED:
        if (captured, released, paid) != (held, 0, held):
            problems.append(
                f"{name}: COMPLETED with hold {held}, capture {captured}, release {released}, "
                f"earnings and fee {paid}"
            )
    elif (captured, released, paid) != (0, held, 0):
        problems.append(
            f"{name}: {charge.status} with hold {held}, capture {captured}, release {released}"
        )


def audit(
    totals: list[AccountTotal], stored: StoredBalances, charges: list[ExecutionCharge]
) -> AuditReport:
    """Rebuild every balance from ``totals`` and compare them with ``stored``; check each
    charged execution and the invariant balances + holds + earnings + fees = grants."""
    problems: list[str] = []
    consumers, developers, fees, grants = _rebuild(totals, problems)
    _compare(stored, consumers, developers, problems)
    for charge in charges:
        _check_execution(charge, problems)
    balances = sum(c.balance for c in stored.consumers.values())
    held = sum(c.held for c in stored.consumers.values())
    earnings = sum(stored.developers.values())
    if balances + held + earnings + fees != grants:
        problems.append(
            f"balances {balances} + held {held} + earnings {earnings} + fees {fees} "
            f"!= grants {grants}"
        )
    return AuditReport(
        problems=problems,
        entries=sum(t.count for t in totals),
        grants=grants,
        balances=balances,
        held=held,
        earnings=earnings,
        fees=fees,
    )
