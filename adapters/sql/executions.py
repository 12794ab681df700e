"""Execution repository: compare-and-set updates, poll claims, consumer history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, and_, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.errors import execute_isolated, guarded
from adapters.sql.mapping import from_row, keyset_page, labelled, to_values
from adapters.sql.tables import ACTIVE_EXECUTION_PREDICATE, executions, tars_models
from tarsify.domain.models import Execution, ExecutionStatus, ExecutionView
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

# Spelled exactly like the partial index predicate: with bound parameters instead of
# literals, PostgreSQL could not prove a generic plan may use that index.
_due_to_poll = text(ACTIVE_EXECUTION_PREDICATE)


def _polled_at_or_before(polled_before: datetime) -> Any:
    return or_(
        executions.c.last_polled_at.is_(None),
        executions.c.last_polled_at <= polled_before,
    )


def _views() -> Select[Any]:
    """Executions joined with the slug and title of their Tars model."""
    return select(*labelled(executions, "x_"), tars_models.c.slug, tars_models.c.title).join(
        tars_models, tars_models.c.id == executions.c.tars_model_id
    )


def _view_of(row: RowMapping) -> ExecutionView:
    return ExecutionView(from_row(Execution, row, "x_"), row["slug"], row["title"])


def consumer_history_query(
    consumer_id: uuid.UUID,
    page: PageRequest,
    *,
    status: ExecutionStatus | None = None,
    tars_model_id: uuid.UUID | None = None,
) -> Select[Any]:
    """The statement behind ``list_for_consumer`` (also explained by the benchmarks)."""
    stmt = _views().where(executions.c.consumer_id == consumer_id)
    if status is not None:
        stmt = stmt.where(executions.c.status == status)
    if tars_model_id is not None:
        stmt = stmt.where(executions.c.tars_model_id == tars_model_id)
    return keyset_page(stmt, executions.c.created_at, executions.c.id, page)


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

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @guarded("executions.add")
    async def add(self, execution: Execution) -> None:
        """Insert; ``AlreadyExists`` when (consumer, idempotency key) is taken."""
        await execute_isolated(self._session, insert(executions).values(to_values(execution)))

    @guarded("executions.get")
    async def get(self, execution_id: uuid.UUID) -> Execution | None:
        """By id."""
        stmt = select(executions).where(executions.c.id == execution_id)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else from_row(Execution, row)

    @guarded("executions.get_view")
    async def get_view(self, execution_id: uuid.UUID) -> ExecutionView | None:
        """By id, with the slug and title of its Tars model."""
        stmt = _views().where(executions.c.id == execution_id)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _view_of(row)

    @guarded("executions.get_by_idempotency_key")
    async def get_by_idempotency_key(self, consumer_id: uuid.UUID, key: str) -> Execution | None:
        """The consumer's execution created with this Idempotency-Key."""
        stmt = select(executions).where(
            executions.c.consumer_id == consumer_id, executions.c.idempotency_key == key
        )
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else from_row(Execution, row)

    @guarded("executions.update")
    async def update(self, execution: Execution) -> bool:
        """Compare-and-set on ``version``; False when another writer got there first."""
        values = to_values(execution)
        del values["id"]
        values["version"] = executions.c.version + 1
        stmt = (
            update(executions)
            .where(executions.c.id == execution.id, executions.c.version == execution.version)
            .values(values)
        )
        result: Any = await execute_isolated(self._session, stmt)
        if result.rowcount != 1:
            return False
        execution.version += 1
        return True

    @guarded("executions.try_mark_polled")
    async def try_mark_polled(
        self, execution_id: uuid.UUID, now: datetime, polled_before: datetime
    ) -> bool:
        """Take the right to poll the provider for one unfinished execution."""
        stmt = (
            update(executions)
            .where(
                executions.c.id == execution_id,
                _due_to_poll,
                _polled_at_or_before(polled_before),
            )
            .values(last_polled_at=now)
        )
        result: Any = await self._session.execute(stmt)
        return bool(result.rowcount == 1)

    @guarded("executions.claim_due")
    async def claim_due(
        self, now: datetime, polled_before: datetime, limit: int
    ) -> list[Execution]:
        """Claim up to ``limit`` unfinished executions due for a poll, oldest first."""
        rows = (await self._session.execute(claim_due_query(polled_before, limit))).mappings()
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
        claimed = set((await self._session.execute(stmt)).scalars())
        result = [c for c in candidates if c.id in claimed]
        for execution in result:
            execution.last_polled_at = now
        return result

    @guarded("executions.list_for_consumer")
    async def list_for_consumer(
        self,
        consumer_id: uuid.UUID,
        page: PageRequest,
        *,
        status: ExecutionStatus | None = None,
        tars_model_id: uuid.UUID | None = None,
    ) -> Page[ExecutionView]:
        """The consumer's executions, newest created first, with model slug and title."""
        stmt = consumer_history_query(consumer_id, page, status=status, tars_model_id=tars_model_id)
        rows = (await self._session.execute(stmt)).mappings().all()
        items = [
            ExecutionView(from_row(Execution, row, "x_"), row["slug"], row["title"]) for row in rows
        ]
        return page_from_rows(items, page, lambda v: Cursor(v.execution.created_at, v.execution.id))
