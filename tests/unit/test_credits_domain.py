"""Credits rules: prices, the fee split, holds, captures, releases and the ledger audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tarsify.domain import credits as credits_rules
from tarsify.domain.credits import (
    MAX_PRICE_PER_RUN,
    AccountType,
    Credits,
    EntryType,
    Posting,
    Run,
    capture,
    check_price,
    effective_price,
    entry,
    grant,
    hold,
    release,
    split_price,
)
from tarsify.domain.errors import InsufficientCredits, InvalidBody
from tarsify.domain.ledger_audit import (
    AccountTotal,
    ExecutionCharge,
    StoredBalances,
    audit,
)
from tarsify.domain.models import ExecutionStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALICE, DEV, MODEL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
RUN = Run(uuid.uuid4(), MODEL)


def test_the_developer_share_is_rounded_down_and_the_platform_gets_the_rest() -> None:
    assert split_price(10, 20) == (8, 2)
    assert split_price(7, 20) == (5, 2)  # 5.6 -> 5
    assert split_price(1, 20) == (0, 1)
    assert split_price(9, 0) == (9, 0)
    assert split_price(9, 100) == (0, 9)
    with pytest.raises(ValueError):
        split_price(10, 101)


@given(st.integers(0, MAX_PRICE_PER_RUN), st.integers(0, 100))
def test_a_split_never_loses_or_creates_a_credit(price: int, fee: int) -> None:
    developer, platform = split_price(price, fee)
    assert developer + platform == price
    assert developer >= 0 and platform >= 0
    assert isinstance(developer, int) and isinstance(platform, int)


def test_the_price_never_falls_below_the_base_models_minimum() -> None:
    assert effective_price(5, 3) == 5
    assert effective_price(2, 3) == 3
    check_price(3, 3)
    with pytest.raises(InvalidBody) as refused:
        check_price(2, 3)
    assert refused.value.details[0]["field"] == "pricePerRun"
    with pytest.raises(InvalidBody):
        check_price(MAX_PRICE_PER_RUN + 1, 0)


def test_entries_carry_the_sign_and_account_of_their_type() -> None:
    assert entry(EntryType.HOLD, ALICE, 5, NOW).amount == -5
    assert entry(EntryType.RELEASE, ALICE, 5, NOW).amount == 5
    fee = entry(EntryType.FEE, None, 2, NOW)
    assert (fee.account_type, fee.amount) == (AccountType.PLATFORM, 2)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError):
            entry(EntryType.GRANT, ALICE, bad, NOW)  # type: ignore[arg-type]


def test_a_hold_moves_the_price_from_balance_to_held() -> None:
    posting = hold(ALICE, Credits(10, 0), 4, RUN, NOW)
    [held] = posting.entries
    assert (held.type, held.amount, held.execution_id) == (EntryType.HOLD, -4, RUN.execution_id)
    assert posting.consumer_changes() == {ALICE: (-4, 4)}


def test_a_hold_beyond_the_balance_is_refused_and_a_free_run_holds_nothing() -> None:
    with pytest.raises(InsufficientCredits) as refused:
        hold(ALICE, Credits(3, 7), 4, RUN, NOW)
    assert refused.value.details == {"price": 4, "balance": 3}
    assert refused.value.code == "ERR_6001"
    assert hold(ALICE, Credits(0, 0), 0, RUN, NOW) == Posting()
    assert hold(ALICE, Credits(4, 0), 4, RUN, NOW).consumer_changes() == {ALICE: (-4, 4)}


def test_a_capture_pays_the_developer_and_the_platform_from_the_hold() -> None:
    posting = capture(ALICE, DEV, 10, 20, RUN, NOW)
    assert [(e.type, e.amount) for e in posting.entries] == [
        (EntryType.CAPTURE, -10),
        (EntryType.EARNING, 8),
        (EntryType.FEE, 2),
    ]
    assert posting.consumer_changes() == {ALICE: (0, -10)}
    assert posting.developer_changes() == {DEV: 8}
    # A share of zero writes no entry.
    assert [e.type for e in capture(ALICE, DEV, 1, 20, RUN, NOW).entries] == [
        EntryType.CAPTURE,
        EntryType.FEE,
    ]
    assert capture(ALICE, DEV, 0, 20, RUN, NOW) == Posting()


def test_the_entries_of_a_run_name_its_execution_and_its_model() -> None:
    postings = [
        hold(ALICE, Credits(10, 0), 10, RUN, NOW),
        capture(ALICE, DEV, 10, 20, RUN, NOW),
        release(ALICE, 10, RUN, NOW),
    ]
    named = {(e.execution_id, e.tars_model_id) for p in postings for e in p.entries}
    assert named == {(RUN.execution_id, MODEL)}
    (granted,) = grant(ALICE, 5, None, NOW).entries
    assert (granted.execution_id, granted.tars_model_id) == (None, None)


def test_the_audit_finds_entries_naming_another_model_than_their_executions() -> None:
    paid = {EntryType.HOLD: -10, EntryType.CAPTURE: -10, EntryType.EARNING: 8, EntryType.FEE: 2}
    done = partial(ExecutionCharge, RUN.execution_id, ExecutionStatus.COMPLETED, 10, paid, MODEL)
    assert _problems(done(frozenset({MODEL}))) == []
    for wrong in ({MODEL, uuid.uuid4()}, {uuid.uuid4()}, {None}):
        assert _problems(done(frozenset(wrong))) == [
            f"execution {RUN.execution_id}: entries name another Tars model than the execution's"
        ]


def _problems(charge: ExecutionCharge) -> list[str]:
    report = audit([], StoredBalances({}, {}), [charge])
    return [p for p in report.problems if "Tars model" in p]


def test_a_release_gives_the_hold_back() -> None:
    posting = release(ALICE, 10, RUN, NOW)
    assert posting.consumer_changes() == {ALICE: (10, -10)}
    assert release(ALICE, 0, RUN, NOW) == Posting()


# --- the audit ---------------------------------------------------------------------------


def _totals(*postings: Posting) -> list[AccountTotal]:
    sums: dict[tuple[object, ...], list[int]] = {}
    for posting in postings:
        for e in posting.entries:
            group = sums.setdefault((e.account_type, e.account_id, e.type), [0, 0])
            group[0] += e.amount
            group[1] += 1
    return [AccountTotal(*key, *values) for key, values in sums.items()]  # type: ignore[arg-type]


def _books() -> tuple[list[AccountTotal], StoredBalances, list[ExecutionCharge]]:
    """Alice got 100, ran two executions of 10: one completed, one still running."""
    done, running = Run(uuid.uuid4(), MODEL), Run(uuid.uuid4(), MODEL)
    postings = [
        grant(ALICE, 100, "welcome", NOW),
        hold(ALICE, Credits(100, 0), 10, done, NOW),
        capture(ALICE, DEV, 10, 20, done, NOW),
        hold(ALICE, Credits(90, 0), 10, running, NOW),
    ]
    stored = StoredBalances({ALICE: Credits(80, 10)}, {DEV: 8})
    charges = [
        ExecutionCharge(
            done.execution_id,
            ExecutionStatus.COMPLETED,
            10,
            {EntryType.HOLD: -10, EntryType.CAPTURE: -10, EntryType.EARNING: 8, EntryType.FEE: 2},
        ),
        ExecutionCharge(running.execution_id, ExecutionStatus.RUNNING, 10, {EntryType.HOLD: -10}),
    ]
    return _totals(*postings), stored, charges


def test_books_that_agree_pass_the_audit() -> None:
    report = audit(*_books())
    assert report.ok, report.problems
    assert (report.grants, report.balances, report.held, report.earnings, report.fees) == (
        100,
        80,
        10,
        8,
        2,
    )
    assert report.entries == 6


def test_a_stored_balance_that_differs_from_the_ledger_is_reported() -> None:
    totals, stored, charges = _books()
    stored.consumers[ALICE] = Credits(81, 10)
    report = audit(totals, stored, charges)
    assert not report.ok
    assert any(
        "stored balance 81 held 10, ledger says balance 80 held 10" in p for p in report.problems
    )
    assert any("!= grants 100" in p for p in report.problems)


def test_developer_earnings_and_unknown_accounts_are_checked() -> None:
    totals, stored, charges = _books()
    stored.developers[DEV] = 9
    stored.consumers.pop(ALICE)
    problems = audit(totals, stored, charges).problems
    assert any("stored earnings 9, ledger says 8" in p for p in problems)
    assert any("entries for an unknown consumer" in p for p in problems)


@pytest.mark.parametrize(
    ("status", "totals", "complaint"),
    [
        (ExecutionStatus.COMPLETED, {EntryType.HOLD: -10}, "COMPLETED with hold 10, capture 0"),
        (
            ExecutionStatus.FAILED,
            {EntryType.HOLD: -10, EntryType.CAPTURE: -10},
            "FAILED with hold 10, capture 10",
        ),
        (
            ExecutionStatus.RUNNING,
            {EntryType.HOLD: -10, EntryType.RELEASE: 10},
            "settled while RUNNING",
        ),
        (ExecutionStatus.CANCELLED, {}, "price 10, held 0"),
    ],
)
def test_each_execution_is_held_once_and_settled_by_its_outcome(
    status: ExecutionStatus, totals: dict[EntryType, int], complaint: str
) -> None:
    charge = ExecutionCharge(RUN.execution_id, status, 10, totals)
    problems = audit([], StoredBalances(), [charge]).problems
    assert any(complaint in p for p in problems), problems


def test_entries_on_the_wrong_account_or_with_the_wrong_sign_are_reported() -> None:
    wrong_account = AccountTotal(AccountType.DEVELOPER, DEV, EntryType.GRANT, 5, 1)
    wrong_sign = AccountTotal(AccountType.CONSUMER, ALICE, EntryType.HOLD, 5, 1, wrong_sign=1)
    problems = audit(
        [wrong_account, wrong_sign], StoredBalances({ALICE: Credits(5, 0)}), []
    ).problems
    assert any("GRANT entries on a DEVELOPER account" in p for p in problems)
    assert any("wrong sign" in p for p in problems)


# --- the rules as numbers: boundaries and documented defaults ---------------------------


def test_the_documented_limits_and_fee() -> None:
    """API.md and README state these: a change must be a decision, not an accident."""
    assert credits_rules.MAX_PRICE_PER_RUN == 1_000_000
    assert credits_rules.MAX_GRANT == 1_000_000_000
    assert credits_rules.MAX_REASON_CHARS == 200
    assert credits_rules.DEFAULT_PLATFORM_FEE_PERCENT == 20


def test_a_price_of_one_credit_is_held_captured_and_released() -> None:
    """The smallest price is still a price: only zero (or less) is free."""
    assert hold(ALICE, Credits(1, 0), 1, RUN, NOW).consumer_changes() == {ALICE: (-1, 1)}
    assert capture(ALICE, DEV, 1, 20, RUN, NOW).consumer_changes() == {ALICE: (0, -1)}
    assert release(ALICE, 1, RUN, NOW).consumer_changes() == {ALICE: (1, -1)}
    for free in (0, -1):
        assert hold(ALICE, Credits(0, 0), free, RUN, NOW) == Posting()
        assert capture(ALICE, DEV, free, 20, RUN, NOW) == Posting()
        assert release(ALICE, free, RUN, NOW) == Posting()


def test_the_highest_price_is_allowed_and_one_more_is_not() -> None:
    check_price(MAX_PRICE_PER_RUN, 0)
    check_price(5, 5)
    with pytest.raises(InvalidBody):
        check_price(MAX_PRICE_PER_RUN + 1, 0)
    with pytest.raises(InvalidBody):
        check_price(4, 5)


# --- the audit: each check on its own --------------------------------------------------


def _consumer_books(**totals: int) -> list[AccountTotal]:
    return [
        AccountTotal(AccountType.CONSUMER, ALICE, EntryType(kind), amount, 1)
        for kind, amount in totals.items()
    ]


@pytest.mark.parametrize(
    ("totals", "stored"),
    [
        ({"GRANT": 5, "HOLD": -10}, Credits(-5, 10)),  # negative balance, sound hold
        ({"GRANT": 10, "RELEASE": 10}, Credits(20, -10)),  # negative hold, sound balance
    ],
)
def test_a_negative_balance_or_hold_is_reported_even_when_the_other_is_sound(
    totals: dict[str, int], stored: Credits
) -> None:
    report = audit(_consumer_books(**totals), StoredBalances({ALICE: stored}), [])
    assert any("the ledger gives a negative amount" in p for p in report.problems)
    assert not any("stored balance" in p for p in report.problems)  # they agree otherwise


def test_zero_and_positive_balances_are_not_negative() -> None:
    report = audit(_consumer_books(GRANT=10, HOLD=-10), StoredBalances({ALICE: Credits(0, 10)}), [])
    assert report.ok, report.problems


def test_wrong_signs_are_reported_whether_the_total_or_one_entry_shows_it() -> None:
    # One HOLD of +5 among others that still sum negative: only the count shows it.
    hidden = AccountTotal(AccountType.CONSUMER, ALICE, EntryType.HOLD, -5, 3, wrong_sign=1)
    problems = audit([hidden], StoredBalances({ALICE: Credits(5, 5)}), []).problems
    assert any("HOLD entries with the wrong sign" in p for p in problems)
    # A total of the wrong sign with no single entry counted wrong.
    summed = AccountTotal(AccountType.CONSUMER, ALICE, EntryType.RELEASE, -3, 1)
    problems = audit([summed], StoredBalances({ALICE: Credits(-3, 3)}), []).problems
    assert any("RELEASE entries with the wrong sign" in p for p in problems)
    # A total of zero has no sign to be wrong.
    zero = AccountTotal(AccountType.CONSUMER, ALICE, EntryType.GRANT, 0, 1)
    assert audit([zero], StoredBalances({ALICE: Credits(0, 0)}), []).ok


@pytest.mark.parametrize(
    "total",
    [
        AccountTotal(AccountType.DEVELOPER, None, EntryType.EARNING, 8, 1),
        AccountTotal(AccountType.PLATFORM, DEV, EntryType.FEE, 2, 1),
        AccountTotal(AccountType.CONSUMER, None, EntryType.GRANT, 5, 1),
    ],
)
def test_entries_without_a_valid_account_are_reported_and_not_counted(
    total: AccountTotal,
) -> None:
    report = audit([total], StoredBalances(), [])
    assert any("entries without a valid account" in p for p in report.problems), report.problems
    assert (report.earnings, report.fees, report.grants) == (0, 0, 0)
