"""The execution state machine and the mapping from provider statuses.

PENDING -> QUEUED -> RUNNING -> one of the terminal statuses. Steps may be skipped
forward (a fast job goes QUEUED -> COMPLETED between two polls), never backwards, and a
terminal status is final.
"""

from __future__ import annotations

from tarsify.domain.models import TERMINAL_STATUSES, ExecutionStatus

_S = ExecutionStatus

ALLOWED_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    _S.PENDING: frozenset({_S.QUEUED, _S.RUNNING} | TERMINAL_STATUSES),
    _S.QUEUED: frozenset({_S.RUNNING} | TERMINAL_STATUSES),
    _S.RUNNING: frozenset(TERMINAL_STATUSES),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
    _S.TIMED_OUT: frozenset(),
    _S.CANCELLED: frozenset(),
}

# RunPod's statuses (and the RUNNING alias its docs list); anything else is unknown.
PROVIDER_STATUS_MAP: dict[str, ExecutionStatus] = {
    "IN_QUEUE": _S.QUEUED,
    "IN_PROGRESS": _S.RUNNING,
    "RUNNING": _S.RUNNING,
    "COMPLETED": _S.COMPLETED,
    "FAILED": _S.FAILED,
    "CANCELLED": _S.CANCELLED,
    "TIMED_OUT": _S.TIMED_OUT,
}


def can_transition(current: ExecutionStatus, target: ExecutionStatus) -> bool:
    """True when ``current -> target`` is a forward move the machine allows."""
    return target in ALLOWED_TRANSITIONS[current]


def map_provider_status(raw: str | None) -> ExecutionStatus | None:
    """Execution status for a provider status; None (no change) when unknown."""
    if raw is None:
        return None
    return PROVIDER_STATUS_MAP.get(raw.strip().upper())


def is_terminal(status: ExecutionStatus) -> bool:
    """True for COMPLETED, FAILED, TIMED_OUT and CANCELLED."""
    return status in TERMINAL_STATUSES
