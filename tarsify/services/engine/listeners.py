"""What else happens, in the same transaction, when an execution is created or changes.

The engine stores every change of an execution through one place (``Dispatcher.store``)
and every new execution through ``ExecutionService.run``. Listeners plugged in there
write what follows from the change in the *same* transaction — an outbox event for a
webhook, a ledger entry for a charge — so that it happens exactly once with the change,
whichever process records it, or not at all. A listener that raises undoes the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget
from tarsify.domain.run_request import RunRequest
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory


class ExecutionListener(Protocol):
    """Reacts, inside the transaction, to an execution being created or changed."""

    async def created(
        self, uow: UnitOfWork, execution: Execution, target: RunTarget, request: RunRequest
    ) -> None:
        """A new execution of ``request`` is being stored (PENDING); raising refuses the
        run."""
        ...

    def writes_on_create(self, execution: Execution, request: RunRequest) -> bool:
        """Whether ``created`` may write beside this new execution. When no listener
        may, the execution is stored as one statement, committed as it runs."""
        ...

    async def changed(self, uow: UnitOfWork, before: Execution, after: Execution) -> None:
        """``before`` is being replaced by ``after`` (a compare-and-set that succeeded).
        It writes to ``uow`` only if ``writes_on(before, after)`` said it may."""
        ...

    def writes_on(self, before: Execution, after: Execution) -> bool:
        """Whether ``changed`` may write for this change. When no listener may, the
        change is stored as one statement, committed as it runs, with no transaction
        around it (``changed`` is still called: it may read, or act outside the store)."""
        ...

    async def will_write(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> bool:
        """Asked only when ``writes_on`` said it may: whether ``changed`` will write, as
        far as it can tell before the change, reading (if it must) through units of work
        of ``reads``. What it reads must not be able to change before the change is
        stored."""
        ...


class Listeners:
    """Every listener, called in order."""

    def __init__(self, listeners: Sequence[ExecutionListener] = ()) -> None:
        self._listeners = tuple(listeners)

    def writes_on_create(self, execution: Execution, request: RunRequest) -> bool:
        """True when some listener may write beside this new execution (so its insert
        cannot be a single-write unit of work)."""
        return any(listener.writes_on_create(execution, request) for listener in self._listeners)

    def writes_on(self, before: Execution, after: Execution) -> bool:
        """True when some listener may write beside this change."""
        return any(listener.writes_on(before, after) for listener in self._listeners)

    async def will_write(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> bool:
        """True when some listener will write beside this change (only the listeners
        that may are asked)."""
        for listener in self._listeners:
            if listener.writes_on(before, after) and await listener.will_write(
                reads, before, after
            ):
                return True
        return False

    async def created(
        self, uow: UnitOfWork, execution: Execution, target: RunTarget, request: RunRequest
    ) -> None:
        """Tell each listener about a new execution."""
        for listener in self._listeners:
            await listener.created(uow, execution, target, request)

    async def changed(self, uow: UnitOfWork, before: Execution, after: Execution) -> None:
        """Tell each listener about a change."""
        for listener in self._listeners:
            await listener.changed(uow, before, after)
