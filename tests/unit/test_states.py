"""The execution state machine: every transition, and provider status mapping."""

from __future__ import annotations

import itertools

import pytest

from tarsify.domain.models import ExecutionStatus as S
from tarsify.domain.states import (
    can_transition,
    is_terminal,
    map_provider_status,
)

ALLOWED = {
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.COMPLETED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.TIMED_OUT),
    (S.PENDING, S.CANCELLED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.COMPLETED),
    (S.QUEUED, S.FAILED),
    (S.QUEUED, S.TIMED_OUT),
    (S.QUEUED, S.CANCELLED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.TIMED_OUT),
    (S.RUNNING, S.CANCELLED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_transition(current: S, target: S) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


def test_terminal_statuses_are_final() -> None:
    terminal = {S.COMPLETED, S.FAILED, S.TIMED_OUT, S.CANCELLED}
    assert {s for s in S if is_terminal(s)} == terminal
    for status in terminal:
        assert status.is_terminal
        assert not any(can_transition(status, t) for t in S)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IN_QUEUE", S.QUEUED),
        ("IN_PROGRESS", S.RUNNING),
        ("RUNNING", S.RUNNING),
        ("COMPLETED", S.COMPLETED),
        ("FAILED", S.FAILED),
        ("CANCELLED", S.CANCELLED),
        ("TIMED_OUT", S.TIMED_OUT),
        ("in_progress", S.RUNNING),
        ("THROTTLED", None),
        ("", None),
        (None, None),
    ],
)
def test_provider_status_mapping(raw: str | None, expected: S | None) -> None:
    assert map_provider_status(raw) is expected
