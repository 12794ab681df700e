"""What else happens, in the same transaction, when an execution is created or changes.

The engine stores every change of an execution through one place (``Dispatcher.store``)
and every new execution through ``ExecutionService.run``. Listeners plugged in there
write what follows from the change in the *same* transaction — an outbox event for a
webhook, a ledger entry for a charge — so that it happens exactly once with the change,
whichever process records it, or not at all. A listener that raises undoes the change.

Each listener decides once, before the change is stored, whether and what it writes: a
``Write`` (run in the change's transaction once its compare-and-set or insert succeeded)
or None. The writes go to the repository with the change (``then``), so the storage
adapter sees the whole change and decides whether it needs a transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.repositories import FollowUp
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory

# A listener's write, in the transaction of the change it follows from.
Write = Callable[[UnitOfWork], Awaitable[None]]


class ExecutionListener(Protocol):
    """Decides what it writes about an execution being created or changed."""

    async def plan_create(
        self, execution: Execution, target: RunTarget, request: RunRequest
    ) -> Write | None:
        """What it writes beside a new execution of ``request`` (PENDING), or None. The
        write runs in the insert's transaction once the insert admitted the run; raising
        there refuses the run (nothing is stored)."""
        ...

    async def plan_change(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> Write | None:
        """What it writes about ``before`` becoming ``after``, or None, decided before
        the change is stored, reading (if it must) through units of work of ``reads``:
        what it reads must not be able to change before the change is stored. The write
        runs in the change's transaction once its compare-and-set succeeded (``after``
        then carries the new version); raising there undoes the change."""
        ...

    async def committed(self, after: Execution) -> None:
        """``after`` is stored and committed: tell whoever must hear of it outside the
        store (never a write; it must not raise)."""
        ...


class Listeners:
    """Every listener, asked in order."""

    def __init__(self, listeners: Sequence[ExecutionListener] = ()) -> None:
        self._listeners = tuple(listeners)

    async def plan_create(
        self, execution: Execution, target: RunTarget, request: RunRequest
    ) -> list[Write]:
        """What the listeners write beside a new execution, in order."""
        writes = []
        for listener in self._listeners:
            write = await listener.plan_create(execution, target, request)
            if write is not None:
                writes.append(write)
        return writes

    async def plan_change(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> list[Write]:
        """What the listeners write about a change, in order."""
        writes = []
        for listener in self._listeners:
            write = await listener.plan_change(reads, before, after)
            if write is not None:
                writes.append(write)
        return writes

    async def committed(self, after: Execution) -> None:
        """Tell each listener that a change is committed."""
        for listener in self._listeners:
            await listener.committed(after)


def follow_ups(uow: UnitOfWork, writes: Sequence[Write]) -> list[FollowUp]:
    """``writes`` as the follow-ups of a change stored in ``uow``."""
    return [functools.partial(write, uow) for write in writes]
