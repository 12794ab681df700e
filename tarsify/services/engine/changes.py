"""Storing a change of an execution: compare-and-set, listeners, files — one whole change."""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Sequence

from tarsify.domain.errors import ExecutionNotFound
from tarsify.domain.execution import Execution
from tarsify.domain.files import ExecutionFile, FileRecord
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.engine.listeners import Listeners, Write, follow_ups

log = logging.getLogger("tarsify.engine")

# What a change is: asked of the execution as stored, it changes it and returns True, or
# returns False (nothing to change). Typically a closure over an ``Execution`` method:
# ``lambda e: e.fail(Failure.JOB_LOST, now)``.
Decision = Callable[[Execution], bool]
# More writes of the change, planned from the state it starts from (stored chunks).
Also = Callable[[Execution], Sequence[Write]]
CAS_ATTEMPTS = 5


async def store_change(
    uow_factory: UnitOfWorkFactory,
    listeners: Listeners,
    execution_id: uuid.UUID,
    decide: Decision,
    *,
    known: Execution | None = None,
    files: Sequence[FileRecord] = (),
    also: Also | None = None,
) -> tuple[Execution, bool]:
    """Ask ``decide(execution)`` and store its change, with what the listeners write
    about it, as one whole change (``UnitOfWork``); the listeners hear once it is
    committed.

    ``known`` is a state just read or stored by this process: the first attempt starts
    from it (the compare-and-set still checks its version) and saves a read. ``files``
    are recorded when this change completes the execution (its output refers to them);
    ``also(before)`` gives more writes of the change, before the listeners'.
    A writer that lost the compare-and-set re-reads and asks again. Returns the stored
    execution and whether this call changed it.
    """
    for attempt in range(CAS_ATTEMPTS):
        if attempt == 0 and known is not None:
            execution = dataclasses.replace(known)
        else:
            execution = await _read(uow_factory, execution_id)
        before = dataclasses.replace(execution)
        if not decide(execution):
            if attempt == 0 and known is not None:
                continue  # "no change" decided on a possibly stale state: re-read
            return execution, False
        writes = list(also(before)) if also is not None else []
        writes += await listeners.plan_change(uow_factory, before, execution)
        if files and execution.status is ExecutionStatus.COMPLETED:
            writes.append(functools.partial(_record_files, execution, files))
        # The compare-and-set is the whole change, with what follows from it: the store
        # commits one with nothing to follow as it runs where it can (one round trip,
        # grouped with others), and opens a transaction for the others.
        async with uow_factory() as uow:
            stored = await uow.executions.update(execution, then=follow_ups(uow, writes))
            if stored:
                await uow.commit()
        if stored:
            await listeners.committed(execution)
            return execution, True
    # Only reachable under extreme contention; the next poll or reconcile retries.
    current = await _read(uow_factory, execution_id)
    log.warning("execution.cas_exhausted", extra={"execution_id": str(execution_id)})
    return current, False


async def _read(uow_factory: UnitOfWorkFactory, execution_id: uuid.UUID) -> Execution:
    """The stored execution; ``ExecutionNotFound`` if there is none."""
    async with uow_factory() as uow:
        execution = await uow.executions.get(execution_id)
    if execution is None:
        raise ExecutionNotFound()
    return execution


async def _record_files(execution: Execution, files: Sequence[FileRecord], uow: UnitOfWork) -> None:
    """The rows of the files a completing execution's output refers to."""
    for record in files:
        await uow.files.add(ExecutionFile.of(execution.id, record, execution.updated_at))
