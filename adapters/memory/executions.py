"""In-memory execution repository: compare-and-set, row locks, poll claims."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.memory.repositories import Repository, keyset
from tarsify.domain.admission import Admission
from tarsify.domain.execution import SET_AT_CREATION, Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.jsonsafe import LISTED_VALUE_MAX_BYTES, bounded
from tarsify.domain.models import ExecutionStatus, RunTarget
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.repositories import FollowUp


def _due(execution: Execution, polled_before: datetime) -> bool:
    return not execution.is_terminal and (
        execution.last_polled_at is None or execution.last_polled_at <= polled_before
    )


class MemoryExecutionRepository(Repository):
    """Executions, with compare-and-set updates and row locks."""

    table = "executions"

    async def add(self, execution: Execution) -> None:
        """Insert; ``AlreadyExists`` when (consumer, idempotency key) is taken."""
        await self._add(execution)

    async def admit(
        self, execution: Execution, admission: Admission, *, then: Sequence[FollowUp] | None = None
    ) -> bool:
        """Insert only if ``admission`` holds (the consumer's row locked while counting);
        with ``then``, a whole change."""
        admitted = await self._admit(execution, admission)
        await self._tx.follow(admitted, then)
        return admitted

    async def _admit(self, execution: Execution, admission: Admission) -> bool:
        self._tx.check()
        if not self._runnable(execution, admission.drafts):
            return False
        consumer = execution.consumer_id
        if admission.max_active is not None and admission.drafts:
            owner = self._tx.row("tars_models", execution.tars_model_id).developer_id
            await self._tx.lock("developers", owner)
            mine = {m.id for m in self._tx.rows("tars_models").values() if m.developer_id == owner}
            rows = self._tx.rows(self.table).values()
            active = sum(
                1
                for x in rows
                if x.consumer_id is None and x.tars_model_id in mine and not x.is_terminal
            )
            if active >= admission.max_active:
                return False
        elif admission.max_active is not None and consumer is not None:
            await self._tx.lock("consumers", consumer)
            rows = self._tx.rows(self.table).values()
            active = sum(1 for x in rows if x.consumer_id == consumer and not x.is_terminal)
            if active >= admission.max_active:
                return False
        await self._add(execution)
        return True

    def _runnable(self, execution: Execution, drafts: bool) -> bool:
        model = self._tx.row("tars_models", execution.tars_model_id)
        base = model and self._tx.row("base_models", model.base_model_id)
        endpoint = base and self._tx.row("endpoints", base.endpoint_id)
        if not endpoint or endpoint.id != execution.endpoint_id:
            return False
        tester = model.developer_id if drafts else None
        return RunTarget(model, base, endpoint).runnable_problem(tester=tester) is None

    async def get(self, execution_id: uuid.UUID) -> Execution | None:
        """By id."""
        return self._get(execution_id)  # type: ignore[no-any-return]

    async def get_view(self, execution_id: uuid.UUID) -> ExecutionView | None:
        """By id, with the slug and title of its Tars model."""
        execution = self._get(execution_id)
        return None if execution is None else self._view(execution)

    def _view(self, execution: Execution) -> ExecutionView:
        """What is shown of it: without the merged payload, as the SQL store reads it."""
        model = self._tx.row("tars_models", execution.tars_model_id)
        shown = dataclasses.replace(execution, input_payload=None)
        return ExecutionView(shown, model.slug, model.title)

    async def get_by_idempotency_key(self, consumer_id: uuid.UUID, key: str) -> Execution | None:
        """The consumer's execution created with this Idempotency-Key."""
        return self._find(  # type: ignore[no-any-return]
            lambda x: x.consumer_id == consumer_id and x.idempotency_key == key
        )

    async def holder_of_job(self, job_id: str) -> uuid.UUID | None:
        """The id of the execution that has recorded ``job_id``, if any."""
        found = self._find(lambda x: x.provider_job_id == job_id)
        return None if found is None else found.id

    async def forget_idempotency_key(self, execution_id: uuid.UUID, key: str) -> None:
        """Clear the key of the execution if it still holds it."""
        await self._locked_write(
            execution_id,
            lambda current: current.idempotency_key == key,
            lambda current: dataclasses.replace(current, idempotency_key=None),
        )

    async def update(self, execution: Execution, *, then: Sequence[FollowUp] | None = None) -> bool:
        """Compare-and-set on ``version``; False when another writer got there first.
        With ``then``, a whole change."""
        changed = copy.deepcopy(execution)
        changed.version += 1

        def stored(current: Execution) -> Execution:
            # What was set at creation stays as stored (a view carries no payload).
            fixed = {name: getattr(current, name) for name in SET_AT_CREATION}
            return dataclasses.replace(changed, **fixed)

        written = await self._locked_write(
            execution.id, lambda current: current.version == execution.version, stored
        )
        if written:
            execution.version = changed.version
        await self._tx.follow(written, then)
        return written

    async def try_mark_polled(
        self,
        execution_id: uuid.UUID,
        now: datetime,
        polled_before: datetime,
        *,
        then: Sequence[FollowUp] | None = None,
    ) -> bool:
        """Take the right to poll the provider for one unfinished execution."""
        due = await self._locked_write(
            execution_id,
            lambda current: _due(current, polled_before),
            lambda current: _polled(current, now),
        )
        await self._tx.follow(due, then)
        return due

    async def claim_due(
        self, now: datetime, polled_before: datetime, limit: int
    ) -> list[Execution]:
        """Claim up to ``limit`` due executions, oldest first, skipping locked rows."""
        due = [
            x
            for x in self._rows()
            if _due(x, polled_before) and not self._tx.is_locked_by_other(self.table, x.id)
        ]
        due.sort(key=lambda x: (x.created_at, x.id))
        claimed = []
        for execution in due[:limit]:
            await self._tx.lock(self.table, execution.id)
            claimed.append(_polled(execution, now))
            self._tx.put(self.table, claimed[-1], insert=False)
        return claimed

    async def list_completed(
        self, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Execution]:
        """COMPLETED executions after ``after`` (created_at, id), oldest first (copies)."""
        rows = [
            x
            for x in self._rows()
            if x.status is ExecutionStatus.COMPLETED
            and (after is None or (x.created_at, x.id) > after)
        ]
        rows.sort(key=lambda x: (x.created_at, x.id))
        return [copy.deepcopy(x) for x in rows[:limit]]

    async def list_for_consumer(
        self,
        consumer_id: uuid.UUID,
        page: PageRequest,
        *,
        status: ExecutionStatus | None = None,
        tars_model_id: uuid.UUID | None = None,
    ) -> Page[ExecutionSummary]:
        """The consumer's executions, newest created first, with model slug and title."""
        rows = []
        for x in self._rows():
            if x.consumer_id != consumer_id or (status is not None and x.status != status):
                continue
            if tars_model_id is not None and x.tars_model_id != tars_model_id:
                continue
            rows.append(self._summary(x))
        return keyset(rows, page, lambda s: (s.created_at, s.id))

    async def list_test_runs(
        self, tars_model_id: uuid.UUID, page: PageRequest
    ) -> Page[ExecutionSummary]:
        """The model's test runs, newest created first, with its slug and title."""
        rows = [
            self._summary(x)
            for x in self._rows()
            if x.consumer_id is None and x.tars_model_id == tars_model_id
        ]
        return keyset(rows, page, lambda s: (s.created_at, s.id))

    def _summary(self, execution: Execution) -> ExecutionSummary:
        summary = ExecutionSummary.of(self._view(copy.deepcopy(execution)))
        # Values over the bound only as their size, as the SQL store reads them.
        summary.consumer_input = bounded(summary.consumer_input, LISTED_VALUE_MAX_BYTES)
        summary.output_payload = bounded(summary.output_payload, LISTED_VALUE_MAX_BYTES)
        summary.logs = bounded(summary.logs, LISTED_VALUE_MAX_BYTES)
        return summary

    async def _locked_write(
        self,
        execution_id: uuid.UUID,
        condition: Callable[[Execution], bool],
        change: Callable[[Execution], Execution],
    ) -> bool:
        """UPDATE ... WHERE id AND condition: wait for the row lock, then re-check."""
        self._tx.check()
        if self._tx.row(self.table, execution_id) is None:
            return False
        newly_locked = await self._tx.lock(self.table, execution_id)
        current = self._tx.row(self.table, execution_id)
        if not condition(current):
            if newly_locked:
                self._tx.unlock(self.table, execution_id)
            return False
        self._tx.put(self.table, change(current), insert=False)
        return True


def _polled(execution: Execution, now: datetime) -> Execution:
    polled = copy.deepcopy(execution)
    polled.last_polled_at = now
    return polled
