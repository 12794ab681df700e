"""Execution repository: admitting inserts, compare-and-set updates, poll claims (the
consumer's history is read by ``adapters.sql.history``)."""

from __future__ import annotations

import functools
import uuid
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Dialect,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.grouped import Grouped, grouped_admissions, grouped_updates
from adapters.sql.history import history_page
from adapters.sql.lane import Lane
from adapters.sql.mapping import Shape, column_of, from_row, to_values
from adapters.sql.query import Query
from adapters.sql.studio import RUNNABLE
from adapters.sql.tables import (
    ACTIVE_EXECUTION_PREDICATE,
    UNFINISHED_PREDICATE,
    base_models,
    executions,
    runpod_endpoints,
    tars_models,
)
from adapters.sql.types import UtcDateTime
from tarsify.domain.execution import SET_AT_CREATION, Admission, Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Page, PageRequest

# Spelled exactly like the partial index predicate: with bound parameters instead of
# literals, PostgreSQL could not prove a generic plan may use that index.
_due_to_poll = text(ACTIVE_EXECUTION_PREDICATE)
# The same rows, as the consumer's index of them spells it (see UNFINISHED_PREDICATE).
_unfinished = text(UNFINISHED_PREDICATE)


def _polled_at_or_before(polled_before: Any) -> Any:
    return or_(
        executions.c.last_polled_at.is_(None),
        executions.c.last_polled_at <= polled_before,
    )


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
_INSERT = Query(insert(executions))


@functools.cache
def _admitting_insert(postgresql: bool, limited: bool) -> Query:
    """INSERT ... SELECT the new row's values WHERE the admission holds: one statement.

    On PostgreSQL ``consumer_active_executions`` (migration 0009) locks the consumer's
    row and counts in a snapshot taken after the lock, so runs of one consumer take
    turns and none counts past another's insert; SQLite runs one writer at a time.
    """
    runnable = exists().where(
        tars_models.c.id == bindparam("a_model", type_=tars_models.c.id.type),
        base_models.c.id == tars_models.c.base_model_id,
        runpod_endpoints.c.id == base_models.c.endpoint_id,
        runpod_endpoints.c.id == bindparam("a_endpoint", type_=runpod_endpoints.c.id.type),
        *RUNNABLE,
    )
    conditions: list[Any] = [runnable]
    if limited:
        consumer = bindparam("a_consumer", type_=executions.c.consumer_id.type)
        if postgresql:
            active: Any = func.consumer_active_executions(consumer, type_=Integer())
        else:
            active = (
                select(func.count())
                .select_from(executions)
                .where(executions.c.consumer_id == consumer, _unfinished)
                .scalar_subquery()
            )
        conditions.append(active < bindparam("a_limit", type_=Integer()))
    values = select(*(bindparam(c.name, type_=c.type) for c in executions.columns))
    names = [c.name for c in executions.columns]
    return Query(insert(executions).from_select(names, values.where(*conditions)))


_FORGET_KEY = (
    update(executions)
    .where(executions.c.id == bindparam(_ID), executions.c.idempotency_key == bindparam("p_key"))
    .values(idempotency_key=None)
)
# Compare-and-set: every column a transition may change, and the version moves on by one.
_FIXED = {"id", "version", *(column_of(Execution, name) for name in SET_AT_CREATION)}
_WRITABLE = [c.name for c in executions.columns if c.name not in _FIXED]
_UPDATE = Query(
    update(executions)
    .where(executions.c.id == bindparam(_ID), executions.c.version == bindparam("p_version"))
    .values({name: bindparam("v_" + name) for name in _WRITABLE})
    .values(version=executions.c.version + 1)
)
_DUE = (
    executions.c.id == bindparam(_ID),
    _due_to_poll,
    _polled_at_or_before(bindparam("p_polled_before", type_=UtcDateTime())),
)
# Group commit (adapters/sql/grouped.py): per lane (per process and engine), one group
# of compare-and-set updates and one of admitting inserts per limit.
_GROUPED: weakref.WeakKeyDictionary[Lane, dict[Any, Grouped]] = weakref.WeakKeyDictionary()
# Whether a run's model is still runnable on its endpoint, for a row of the grouped insert.
_RUNNABLE_ROW = exists().where(
    tars_models.c.id == literal_column("v.v_tars_model_id"),
    base_models.c.id == tars_models.c.base_model_id,
    runpod_endpoints.c.id == base_models.c.endpoint_id,
    runpod_endpoints.c.id == literal_column("v.v_endpoint_id"),
    *RUNNABLE,
)


def _grouped(lane: Lane, dialect: Dialect, key: Any) -> Grouped:
    """The lane's group for ``key``: "update", or ("admit", limit)."""
    groups = _GROUPED.get(lane)
    if groups is None:
        groups = _GROUPED[lane] = {}
    grouped = groups.get(key)
    if grouped is None:
        if key == "update":
            grouped = grouped_updates(lane, dialect, executions, _WRITABLE)
        else:
            grouped = grouped_admissions(lane, dialect, executions, _RUNNABLE_ROW, key[1])
        groups[key] = grouped
    return grouped


_IS_DUE = Query(select(executions.c.id).where(*_DUE))
_MARK_POLLED = Query(
    update(executions).where(*_DUE).values(last_polled_at=bindparam("p_now", type_=UtcDateTime()))
)


def _view_of(row: Sequence[Any]) -> ExecutionView:
    width = _VIEW.width
    return ExecutionView(_VIEW.load(row), row[width], row[width + 1])


def claim_due_query(polled_before: datetime, limit: int) -> Select[Any]:
    """Unfinished executions due for a poll, oldest first, skipping rows others hold.

    The status list matches the partial index predicate, so the planner can use it.
    SQLite ignores ``FOR UPDATE``; there the claiming UPDATE re-checks the condition.
    """
    return (
        select(executions)
        .where(_due_to_poll, _polled_at_or_before(polled_before))
        .order_by(executions.c.created_at, executions.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


class SqlExecutionRepository:
    """Executions in the ``executions`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("executions.add")
    async def add(self, execution: Execution) -> None:
        """Insert; ``AlreadyExists`` when (consumer, idempotency key) is taken."""
        await self._db.write(_INSERT, to_values(execution))

    @guarded("executions.admit")
    async def admit(self, execution: Execution, admission: Admission) -> bool:
        """Insert only if ``admission`` holds, in the same statement."""
        limited = admission.max_active is not None
        postgresql = self._db.dialect_name == "postgresql"
        query = _admitting_insert(postgresql, limited)
        # Without a key (a clash would fail the whole group), it goes with the other runs
        # of this process (adapters/sql/grouped.py).
        lane = None
        if postgresql and execution.idempotency_key is None:
            lane = self._db.lane_for_grouping(query.statement)
        if lane is not None:
            key = ("admit", admission.max_active)
            return await _grouped(lane, self._db.dialect, key).write(to_values(execution))
        params = to_values(execution) | {
            "a_model": execution.tars_model_id,
            "a_endpoint": execution.endpoint_id,
        }
        if limited:
            params |= {"a_consumer": execution.consumer_id, "a_limit": admission.max_active}
        return await self._db.write(query, params) == 1

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
        await self._db.execute(_FORGET_KEY, {_ID: execution_id, "p_key": key})

    @guarded("executions.update")
    async def update(self, execution: Execution) -> bool:
        """Compare-and-set on ``version``; False when another writer got there first.

        A single write outside a transaction goes out with the concurrent ones of this
        process, in one statement (``adapters.sql.grouped``).
        """
        values = to_values(execution)
        lane = self._db.lane_for_grouping(_UPDATE.statement)
        if lane is not None:
            written = await _grouped(lane, self._db.dialect, "update").write(values)
        else:
            params = {"v_" + name: values[name] for name in _WRITABLE}
            params[_ID], params["p_version"] = execution.id, execution.version
            written = await self._db.write(_UPDATE, params) == 1
        if not written:
            return False
        execution.version += 1
        return True

    @guarded("executions.try_mark_polled")
    async def try_mark_polled(
        self, execution_id: uuid.UUID, now: datetime, polled_before: datetime
    ) -> bool:
        """Take the right to poll the provider for one unfinished execution.

        The conditional UPDATE alone decides (a row that was not due cannot become due
        again: ``last_polled_at`` only moves forward). Inside a transaction a plain read
        comes first: while many clients poll one execution, it is almost never due, and
        a read answers that without a transaction. Without one (a single-write unit of
        work on PostgreSQL) an UPDATE that matches nothing costs what that read costs,
        so it is sent at once.
        """
        params = {_ID: execution_id, "p_polled_before": polled_before}
        if not self._db.writes_without_transaction:
            if await self._db.fetch_one(_IS_DUE, params) is None:
                return False
        return await self._db.write(_MARK_POLLED, params | {"p_now": now}, isolated=False) == 1

    @guarded("executions.claim_due")
    async def claim_due(
        self, now: datetime, polled_before: datetime, limit: int
    ) -> list[Execution]:
        """Claim up to ``limit`` unfinished executions due for a poll, oldest first."""
        rows = (await self._db.execute(claim_due_query(polled_before, limit))).mappings()
        candidates = [from_row(Execution, row) for row in rows]
        if not candidates:
            return []
        stmt = (
            update(executions)
            .where(
                executions.c.id.in_([c.id for c in candidates]),
                and_(_due_to_poll, _polled_at_or_before(polled_before)),
            )
            .values(last_polled_at=now)
            .returning(executions.c.id)
        )
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
