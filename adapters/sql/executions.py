"""Execution repository: admitting inserts, compare-and-set updates, poll claims (the
statements that write, with their parameters: ``adapters.sql.execution_writes``; the
consumer's history is read by ``adapters.sql.history``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.execution_writes import (
    FORGET_KEY,
    INSERT,
    IS_DUE,
    MARK_POLLED,
    UPDATE,
    admit_params,
    admitting_insert,
    claim,
    claim_due_query,
    due_params,
    forget_params,
    grouped,
    update_params,
)
from adapters.sql.history import history_page, test_runs_page
from adapters.sql.mapping import (
    Shape,
    column_of,
    from_row,
    to_values,
)
from adapters.sql.query import Query
from adapters.sql.tables import executions, tars_models
from adapters.sql.types import UtcDateTime
from tarsify.domain.admission import Admission
from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.repositories import FollowUp

_EXECUTION = Shape(Execution, executions)
# What is shown of an execution: every column but the merged payload (hidden inputs).
_VIEW = Shape(Execution, executions, "x_", omit=(column_of(Execution, "input_payload"),))
# Executions joined with the slug and title of their Tars model.
_VIEWS = select(*_VIEW.columns, tars_models.c.slug, tars_models.c.title).join(
    tars_models, tars_models.c.id == executions.c.tars_model_id
)
_ID, _CONSUMER = "p_id", "p_consumer"
_GET = Query(select(*_EXECUTION.columns).where(executions.c.id == bindparam(_ID)))
_GET_VIEW = Query(_VIEWS.where(executions.c.id == bindparam(_ID)))
_GET_BY_KEY = Query(
    select(*_EXECUTION.columns).where(
        executions.c.consumer_id == bindparam(_CONSUMER),
        executions.c.idempotency_key == bindparam("p_key"),
    )
)
_HOLDER_OF_JOB = Query(
    select(executions.c.id).where(executions.c.runpod_job_id == bindparam("p_job"))
)


def _view_of(row: Sequence[Any]) -> ExecutionView:
    width = _VIEW.width
    return ExecutionView(_VIEW.load(row), row[width], row[width + 1])


class SqlExecutionRepository:
    """Executions in the ``executions`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("executions.add")
    async def add(self, execution: Execution) -> None:
        """Insert; ``AlreadyExists`` when (consumer, idempotency key) is taken."""
        await self._db.write(INSERT, to_values(execution))

    @guarded("executions.admit")
    async def admit(
        self, execution: Execution, admission: Admission, *, then: Sequence[FollowUp] | None = None
    ) -> bool:
        """Insert only if ``admission`` holds, in the same statement; with ``then``, a
        whole change (``Db.write``'s ``alone`` when nothing follows)."""
        alone = then is not None and not then
        postgresql = self._db.dialect_name == "postgresql"
        query = admitting_insert(postgresql, admission.max_active is not None, admission.drafts)
        # Alone and without a key (a clash would fail the whole group), it goes with the
        # other runs of this process (adapters/sql/grouped.py); a test run goes alone.
        lane = None
        grouping = execution.idempotency_key is None and not admission.drafts
        if alone and postgresql and grouping:
            lane = self._db.lane_for_grouping()
        if lane is not None:
            key = ("admit", admission.max_active)
            admitted = await grouped(lane, self._db.dialect, key).write(to_values(execution))
        else:
            params = admit_params(execution, admission)
            admitted = await self._db.write(query, params, alone=alone) == 1
        await self._db.follow(admitted, then)
        return admitted

    @guarded("executions.get")
    async def get(self, execution_id: uuid.UUID) -> Execution | None:
        """By id."""
        row = await self._db.fetch_one(_GET, {_ID: execution_id})
        return None if row is None else _EXECUTION.load(row)

    @guarded("executions.get_view")
    async def get_view(self, execution_id: uuid.UUID) -> ExecutionView | None:
        """By id, with the slug and title of its Tars model."""
        row = await self._db.fetch_one(_GET_VIEW, {_ID: execution_id})
        return None if row is None else _view_of(row)

    @guarded("executions.get_by_idempotency_key")
    async def get_by_idempotency_key(self, consumer_id: uuid.UUID, key: str) -> Execution | None:
        """The consumer's execution created with this Idempotency-Key."""
        params = {_CONSUMER: consumer_id, "p_key": key}
        row = await self._db.fetch_one(_GET_BY_KEY, params)
        return None if row is None else _EXECUTION.load(row)

    @guarded("executions.holder_of_job")
    async def holder_of_job(self, job_id: str) -> uuid.UUID | None:
        """The id of the execution that has recorded ``job_id`` (the unique index)."""
        row = await self._db.fetch_one(_HOLDER_OF_JOB, {"p_job": job_id})
        return None if row is None else row[0]

    @guarded("executions.forget_idempotency_key")
    async def forget_idempotency_key(self, execution_id: uuid.UUID, key: str) -> None:
        """Clear the key of the execution if it still holds it."""
        await self._db.execute(FORGET_KEY, forget_params(execution_id, key))

    @guarded("executions.update")
    async def update(self, execution: Execution, *, then: Sequence[FollowUp] | None = None) -> bool:
        """Compare-and-set on ``version``; False when another writer got there first.

        A whole change with nothing to follow (``then`` empty) runs alone where it can
        (``Db.write``), and goes out with the concurrent ones of this process, in one
        statement (``adapters.sql.grouped``).
        """
        values = to_values(execution)
        alone = then is not None and not then
        lane = self._db.lane_for_grouping() if alone else None
        if lane is not None:
            written = await grouped(lane, self._db.dialect, "update").write(values)
        else:
            params = update_params(execution, values)
            written = await self._db.write(UPDATE, params, alone=alone) == 1
        if written:
            execution.version += 1
        await self._db.follow(written, then)
        return written

    @guarded("executions.try_mark_polled")
    async def try_mark_polled(
        self,
        execution_id: uuid.UUID,
        now: datetime,
        polled_before: datetime,
        *,
        then: Sequence[FollowUp] | None = None,
    ) -> bool:
        """Take the right to poll the provider for one unfinished execution.

        The conditional UPDATE alone decides (a row that was not due cannot become due
        again: ``last_polled_at`` only moves forward). Inside a transaction a plain read
        comes first: while many clients poll one execution, it is almost never due, and
        a read answers that without a transaction. Without one (a whole change with
        nothing to follow, run alone on PostgreSQL) an UPDATE that matches nothing costs
        what that read costs, so it is sent at once.
        """
        params = due_params(execution_id, polled_before)
        alone = then is not None and not then
        due = True
        if not (alone and self._db.writes_alone):
            due = await self._db.fetch_one(IS_DUE, params) is not None
        if due:
            params |= {"p_now": now}
            due = await self._db.write(MARK_POLLED, params, isolated=False, alone=alone) == 1
        await self._db.follow(due, then)
        return due

    @guarded("executions.claim_due")
    async def claim_due(
        self, now: datetime, polled_before: datetime, limit: int
    ) -> list[Execution]:
        """Claim up to ``limit`` unfinished executions due for a poll, oldest first."""
        rows = (await self._db.execute(claim_due_query(polled_before, limit))).mappings()
        candidates = [from_row(Execution, row) for row in rows]
        if not candidates:
            return []
        stmt = claim([c.id for c in candidates], now, polled_before)
        claimed = set((await self._db.execute(stmt)).scalars())
        result = [c for c in candidates if c.id in claimed]
        for execution in result:
            execution.last_polled_at = now
        return result

    @guarded("executions.list_completed")
    async def list_completed(
        self, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Execution]:
        """COMPLETED executions after ``after`` (created_at, id), oldest first."""
        stmt = select(*_EXECUTION.columns).where(executions.c.status == ExecutionStatus.COMPLETED)
        if after is not None:
            stmt = stmt.where(
                tuple_(executions.c.created_at, executions.c.id)
                > tuple_(
                    bindparam("p_at", after[0], type_=UtcDateTime()),
                    bindparam("p_id", after[1], type_=executions.c.id.type),
                )
            )
        stmt = stmt.order_by(executions.c.created_at, executions.c.id).limit(limit)
        rows = (await self._db.execute(stmt)).all()
        return [_EXECUTION.load(row) for row in rows]

    @guarded("executions.list_for_consumer")
    async def list_for_consumer(
        self,
        consumer_id: uuid.UUID,
        page: PageRequest,
        *,
        status: ExecutionStatus | None = None,
        tars_model_id: uuid.UUID | None = None,
    ) -> Page[ExecutionSummary]:
        """The consumer's executions, newest created first, with model slug and title."""
        return await history_page(self._db, consumer_id, page, status, tars_model_id)

    @guarded("executions.list_test_runs")
    async def list_test_runs(
        self, tars_model_id: uuid.UUID, page: PageRequest
    ) -> Page[ExecutionSummary]:
        """The model's test runs, newest created first, with its slug and title."""
        return await test_runs_page(self._db, tars_model_id, page)
