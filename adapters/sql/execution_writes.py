"""The statements that change executions, with their parameters: the admitting insert,
the compare-and-set, the poll claims, and their groups (group commit: one group of
compare-and-sets and one of admitting inserts per limit, per lane, ``adapters.sql.grouped``).
"""

from __future__ import annotations

import functools
import uuid
import weakref
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
    update,
)
from sqlalchemy.sql.dml import ReturningUpdate

from adapters.sql.grouped import Grouped, grouped_admissions, grouped_updates
from adapters.sql.lane import Lane
from adapters.sql.mapping import column_of, to_values
from adapters.sql.query import Query
from adapters.sql.studio import RUNNABLE, TESTABLE
from adapters.sql.tables import (
    ACTIVE_EXECUTION_PREDICATE,
    UNFINISHED_PREDICATE,
    base_models,
    executions,
    runpod_endpoints,
    tars_models,
)
from adapters.sql.types import UtcDateTime
from tarsify.domain.admission import Admission
from tarsify.domain.execution import SET_AT_CREATION, Execution
from tarsify.domain.models import ExecutionStatus

_ID = "p_id"
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


INSERT = Query(insert(executions))


@functools.cache
def admitting_insert(postgresql: bool, limited: bool, drafts: bool = False) -> Query:
    """INSERT ... SELECT the new row's values WHERE the admission holds: one statement.

    On PostgreSQL ``consumer_active_executions`` (migration 0009) locks the consumer's
    row and counts in a snapshot taken after the lock, so runs of one consumer take
    turns and none counts past another's insert; SQLite runs one writer at a time.
    With ``drafts`` (a developer's test run) a DRAFT model is admitted too, and the limit
    counts the developer's unfinished test runs, of all their models
    (``developer_active_test_runs``, migration 0020: the developer's row locked the same
    way).
    """
    rules = TESTABLE if drafts else RUNNABLE
    runnable = exists().where(
        tars_models.c.id == bindparam("a_model", type_=tars_models.c.id.type),
        base_models.c.id == tars_models.c.base_model_id,
        runpod_endpoints.c.id == base_models.c.endpoint_id,
        runpod_endpoints.c.id == bindparam("a_endpoint", type_=runpod_endpoints.c.id.type),
        *rules,
    )
    conditions: list[Any] = [runnable]
    if limited and drafts:
        model = bindparam("a_model", type_=tars_models.c.id.type)
        if postgresql:
            active: Any = func.developer_active_test_runs(model, type_=Integer())
        else:
            owner = select(tars_models.c.developer_id).where(tars_models.c.id == model)
            active = (
                select(func.count())
                .select_from(executions.join(tars_models))
                .where(
                    tars_models.c.developer_id == owner.scalar_subquery(),
                    executions.c.consumer_id.is_(None),
                    executions.c.status.not_in([s for s in ExecutionStatus if s.is_terminal]),
                )
                .scalar_subquery()
            )
        conditions.append(active < bindparam("a_limit", type_=Integer()))
    elif limited:
        consumer = bindparam("a_consumer", type_=executions.c.consumer_id.type)
        if postgresql:
            active = func.consumer_active_executions(consumer, type_=Integer())
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


def admit_params(execution: Execution, admission: Admission) -> dict[str, Any]:
    """The parameters of ``admitting_insert``."""
    params = to_values(execution) | {
        "a_model": execution.tars_model_id,
        "a_endpoint": execution.endpoint_id,
    }
    if admission.max_active is not None:
        params["a_limit"] = admission.max_active
        if not admission.drafts:
            params["a_consumer"] = execution.consumer_id
    return params


FORGET_KEY = (
    update(executions)
    .where(executions.c.id == bindparam(_ID), executions.c.idempotency_key == bindparam("p_key"))
    .values(idempotency_key=None)
)


def forget_params(execution_id: uuid.UUID, key: str) -> dict[str, Any]:
    """The parameters of ``FORGET_KEY``."""
    return {_ID: execution_id, "p_key": key}


# Compare-and-set: every column a transition may change, and the version moves on by one.
_FIXED = {"id", "version", *(column_of(Execution, name) for name in SET_AT_CREATION)}
WRITABLE = [c.name for c in executions.columns if c.name not in _FIXED]
UPDATE = Query(
    update(executions)
    .where(executions.c.id == bindparam(_ID), executions.c.version == bindparam("p_version"))
    .values({name: bindparam("v_" + name) for name in WRITABLE})
    .values(version=executions.c.version + 1)
)


def update_params(execution: Execution, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``UPDATE`` (``values``: the execution's ``to_values``)."""
    params = {"v_" + name: values[name] for name in WRITABLE}
    params[_ID], params["p_version"] = execution.id, execution.version
    return params


_DUE = (
    executions.c.id == bindparam(_ID),
    _due_to_poll,
    _polled_at_or_before(bindparam("p_polled_before", type_=UtcDateTime())),
)
IS_DUE = Query(select(executions.c.id).where(*_DUE))
MARK_POLLED = Query(
    update(executions).where(*_DUE).values(last_polled_at=bindparam("p_now", type_=UtcDateTime()))
)


def due_params(execution_id: uuid.UUID, polled_before: datetime) -> dict[str, Any]:
    """The parameters of ``IS_DUE`` (``MARK_POLLED`` adds ``p_now``)."""
    return {_ID: execution_id, "p_polled_before": polled_before}


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


def claim(ids: list[uuid.UUID], now: datetime, polled_before: datetime) -> ReturningUpdate[Any]:
    """The UPDATE that claims the rows ``claim_due_query`` found, if still due."""
    return (
        update(executions)
        .where(
            executions.c.id.in_(ids),
            and_(_due_to_poll, _polled_at_or_before(polled_before)),
        )
        .values(last_polled_at=now)
        .returning(executions.c.id)
    )


# Per lane (per process and engine): "update", or ("admit", limit).
GROUPED: weakref.WeakKeyDictionary[Lane, dict[Any, Grouped]] = weakref.WeakKeyDictionary()
# Whether a run's model is still runnable on its endpoint, for a row of the grouped insert.
_RUNNABLE_ROW = exists().where(
    tars_models.c.id == literal_column("v.v_tars_model_id"),
    base_models.c.id == tars_models.c.base_model_id,
    runpod_endpoints.c.id == base_models.c.endpoint_id,
    runpod_endpoints.c.id == literal_column("v.v_endpoint_id"),
    *RUNNABLE,
)


def grouped(lane: Lane, dialect: Dialect, key: Any) -> Grouped:
    """The lane's group for ``key``: "update", or ("admit", limit)."""
    groups = GROUPED.get(lane)
    if groups is None:
        groups = GROUPED[lane] = {}
    group = groups.get(key)
    if group is None:
        if key == "update":
            group = grouped_updates(lane, dialect, executions, WRITABLE)
        else:
            group = grouped_admissions(lane, dialect, executions, _RUNNABLE_ROW, key[1])
        groups[key] = group
    return group
