"""SQL figures: ``ExecutionStats`` (one ``GROUP BY status``) and ``StudioFigures`` (a
developer's figures, aggregated by the database: counts, percentiles, days, earnings).

A model's runs of a window are read from ``ix_executions_model_figures`` and its
earnings from ``ix_ledger_entries_model_type_created`` (index-only scans on PostgreSQL:
an EARNING entry names its run's model, so no entry is joined to its execution);
percentiles are ``percentile_cont`` on PostgreSQL and the same
interpolation over ranked rows on SQLite. Only the aggregates leave the database.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    case,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.errors import guarded
from adapters.sql.tables import PAID_RUN_PREDICATE, executions, ledger_entries, tars_models
from tarsify.domain.credits import AccountType, EntryType
from tarsify.domain.figures import Day, DeveloperFigures, Figures, ModelFigures, Percentiles
from tarsify.domain.models import ExecutionStatus

_S = ExecutionStatus
_x, _l, _t = executions, ledger_entries, tars_models
_FINAL = [s for s in ExecutionStatus if s.is_terminal]
_PAID = text(PAID_RUN_PREDICATE)  # spelled as the index's predicate
_TIMES = {"queue": _x.c.queue_time_ms, "run": _x.c.execution_time_ms}
_RANKS = (0.5, 0.9)


class SqlExecutionStats:
    """Counts executions per status; the status index keeps it an index scan."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @guarded("stats.count_by_status")
    async def count_by_status(self) -> dict[ExecutionStatus, int]:
        """Executions per status (statuses with none are absent)."""
        query = select(_x.c.status, func.count()).group_by(_x.c.status)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {ExecutionStatus(status): int(count) for status, count in rows}


def _count(status: ExecutionStatus) -> Any:
    return func.count().filter(_x.c.status == status)


def _day(column: Any, postgresql: bool) -> Any:
    """The UTC day of a timestamp column."""
    if postgresql:
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps naive UTC text


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class SqlStudioFigures:
    """``StudioFigures`` on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgresql = engine.dialect.name == "postgresql"

    def _runs(self, model: uuid.UUID | None, developer: uuid.UUID | None, since: datetime) -> Any:
        """The conditions on the paid runs of the model (or the developer's models)."""
        where = [_PAID, _x.c.created_at >= since]
        if model is not None:
            where.append(_x.c.tars_model_id == model)
        else:
            mine = select(_t.c.id).where(_t.c.developer_id == developer)
            where.append(_x.c.tars_model_id.in_(mine.scalar_subquery()))
        return where

    async def _totals(self, connection: AsyncConnection, where: list[Any]) -> Figures:
        columns = [
            func.count(),
            _count(_S.COMPLETED),
            _count(_S.FAILED),
            _count(_S.CANCELLED),
            _count(_S.TIMED_OUT),
        ]
        if self._postgresql:
            for column in _TIMES.values():
                columns += [func.percentile_cont(p).within_group(column) for p in _RANKS]
        row = (await connection.execute(select(*columns).where(*where))).one()
        runs, completed, failed, cancelled, timed_out = (int(v) for v in row[:5])
        if self._postgresql:
            queue, run = Percentiles(*row[5:7]), Percentiles(*row[7:9])
        else:
            queue = await self._sqlite_percentiles(connection, _TIMES["queue"], where)
            run = await self._sqlite_percentiles(connection, _TIMES["run"], where)
        return Figures(runs, completed, failed, cancelled, timed_out, queue, run)

    async def _sqlite_percentiles(
        self, connection: AsyncConnection, column: Any, where: list[Any]
    ) -> Percentiles:
        """``percentile_cont`` over ranked rows: at rank 1 + p (n - 1), interpolated
        between the two nearest ranks."""
        ranked = (
            select(
                column.label("v"),
                func.row_number().over(order_by=column).label("rn"),
                func.count().over().label("n"),
            )
            .where(*where, column.is_not(None))
            .subquery()
        )
        values = []
        for p in _RANKS:
            position = literal(1.0, Float) + literal(p, Float) * (ranked.c.n - 1)
            low = cast(position, Integer)  # positive: truncation is the floor
            fraction = position - low
            values.append(
                func.sum(
                    case(
                        (ranked.c.rn == low, ranked.c.v * (1 - fraction)),
                        (ranked.c.rn == low + 1, ranked.c.v * fraction),
                        else_=0,
                    )
                )
            )
        row = (await connection.execute(select(*values))).one()
        return Percentiles(*(None if v is None else float(v) for v in row))

    async def _days(self, connection: AsyncConnection, where: list[Any]) -> dict[date, Day]:
        day = _day(_x.c.created_at, self._postgresql).label("day")
        query = (
            select(day, func.count(), _count(_S.COMPLETED), _count(_S.FAILED))
            .where(*where)
            .group_by(day)
        )
        rows = (await connection.execute(query)).all()
        return {_as_date(d): Day(_as_date(d), int(r), int(c), int(f)) for d, r, c, f in rows}

    def _earned(self, developer: uuid.UUID, since: datetime) -> list[Any]:
        return [
            _l.c.account_type == AccountType.DEVELOPER,
            _l.c.account_id == developer,
            _l.c.type == EntryType.EARNING,
            _l.c.created_at >= since,
        ]

    def _earned_by(self, models: Any, since: datetime) -> list[Any]:
        """EARNING entries of the runs of ``models`` (a condition on the entries' model):
        each is the model's developer's, so the account need not be read."""
        return [
            models,
            _l.c.type == EntryType.EARNING,
            _l.c.created_at >= since,
        ]

    async def _earnings(
        self,
        connection: AsyncConnection,
        developer: uuid.UUID,
        model: uuid.UUID | None,
        since: datetime,
    ) -> dict[date, int]:
        """Credits the developer earned per UTC day (from the model's runs, if given)."""
        day = _day(_l.c.created_at, self._postgresql).label("day")
        if model is None:
            where = self._earned(developer, since)
        else:
            where = self._earned_by(_l.c.tars_model_id == model, since)
        query = select(day, func.sum(_l.c.amount)).where(*where).group_by(day)
        rows = (await connection.execute(query)).all()
        return {_as_date(d): int(amount) for d, amount in rows}

    async def _figures(
        self, connection: AsyncConnection, where: list[Any], earned: dict[date, int]
    ) -> Figures:
        totals = await self._totals(connection, where)
        days = await self._days(connection, where)
        for when, amount in earned.items():
            day = days.get(when, Day(when))
            days[when] = Day(day.date, day.runs, day.completed, day.failed, amount)
        return Figures(
            totals.runs,
            totals.completed,
            totals.failed,
            totals.cancelled,
            totals.timed_out,
            totals.queue_ms,
            totals.run_ms,
            sum(earned.values()),
            sorted(days.values(), key=lambda d: d.date),
        )

    @guarded("stats.model_figures")
    async def model_figures(self, tars_model_id: uuid.UUID, since: datetime) -> Figures:
        """The model's figures since ``since`` (days with something only)."""
        where = self._runs(tars_model_id, None, since)
        async with self._engine.connect() as connection:
            developer = await connection.scalar(
                select(_t.c.developer_id).where(_t.c.id == tars_model_id)
            )
            if developer is None:
                return Figures()
            earned = await self._earnings(connection, developer, tars_model_id, since)
            return await self._figures(connection, where, earned)

    @guarded("stats.developer_figures")
    async def developer_figures(self, developer_id: uuid.UUID, since: datetime) -> DeveloperFigures:
        """The developer's figures since ``since``, and a line per model."""
        where = self._runs(None, developer_id, since)
        async with self._engine.connect() as connection:
            earned = await self._earnings(connection, developer_id, None, since)
            totals = await self._figures(connection, where, earned)
            models = await self._models(connection, developer_id, since)
        return DeveloperFigures(totals, models)

    async def _models(
        self, connection: AsyncConnection, developer: uuid.UUID, since: datetime
    ) -> list[ModelFigures]:
        runs = (
            select(
                _x.c.tars_model_id.label("model"),
                func.count().label("runs"),
                _count(_S.COMPLETED).label("completed"),
                func.count().filter(_x.c.status.in_(_FINAL)).label("finished"),
            )
            .where(*self._runs(None, developer, since))
            .group_by(_x.c.tars_model_id)
            .subquery()
        )
        mine = select(_t.c.id).where(_t.c.developer_id == developer).scalar_subquery()
        earned = (
            select(_l.c.tars_model_id.label("model"), func.sum(_l.c.amount).label("earnings"))
            .where(*self._earned_by(_l.c.tars_model_id.in_(mine), since))
            .group_by(_l.c.tars_model_id)
            .subquery()
        )
        query = (
            select(
                _t.c.id,
                _t.c.slug,
                _t.c.title,
                func.coalesce(runs.c.runs, 0),
                func.coalesce(runs.c.completed, 0),
                func.coalesce(runs.c.finished, 0),
                func.coalesce(earned.c.earnings, 0),
            )
            .outerjoin(runs, runs.c.model == _t.c.id)
            .outerjoin(earned, earned.c.model == _t.c.id)
            .where(_t.c.developer_id == developer)
            .order_by(_t.c.created_at.desc(), _t.c.id.desc())
        )
        rows = (await connection.execute(query)).all()
        return [
            ModelFigures(i, s, t, int(r), int(c), int(f), int(e)) for i, s, t, r, c, f, e in rows
        ]
