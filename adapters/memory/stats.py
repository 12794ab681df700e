"""In-memory ``ExecutionStats`` and ``StudioFigures`` over a ``MemoryStore``."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from adapters.memory.uow import MemoryStore
from tarsify.domain.credits import EntryType, LedgerEntry
from tarsify.domain.errors import StorageError
from tarsify.domain.execution import Execution
from tarsify.domain.figures import (
    Day,
    DeveloperFigures,
    Figures,
    ModelFigures,
    Percentiles,
    percentile,
)
from tarsify.domain.models import ExecutionStatus

_S = ExecutionStatus


class MemoryExecutionStats:
    """Counts the store's committed executions; fails while the store is ``down``."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def count_by_status(self) -> dict[ExecutionStatus, int]:
        """Committed executions per status."""
        if self._store.down:
            raise StorageError()
        rows: list[Execution] = list(self._store.tables["executions"].values())
        return dict(Counter(row.status for row in rows))


class MemoryStudioFigures:
    """``StudioFigures`` over the store's committed rows (the SQL store aggregates in the
    database; this fake counts the same rows the same way)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def _rows(self, table: str) -> list[Any]:
        if self._store.down:
            raise StorageError()
        return list(self._store.tables[table].values())

    def _figures(self, runs: list[Execution], earned: list[LedgerEntry]) -> Figures:
        days: dict[date, Day] = {}
        for x in runs:
            when = x.created_at.astimezone(UTC).date()
            day = days.get(when, Day(when))
            completed, failed = x.status is _S.COMPLETED, x.status is _S.FAILED
            days[when] = replace(
                day,
                runs=day.runs + 1,
                completed=day.completed + completed,
                failed=day.failed + failed,
            )
        for entry in earned:
            when = entry.created_at.astimezone(UTC).date()
            day = days.get(when, Day(when))
            days[when] = replace(day, earnings=day.earnings + entry.amount)
        by_status = Counter(x.status for x in runs)
        return Figures(
            len(runs),
            by_status[_S.COMPLETED],
            by_status[_S.FAILED],
            by_status[_S.CANCELLED],
            by_status[_S.TIMED_OUT],
            _percentiles(x.queue_time_ms for x in runs),
            _percentiles(x.execution_time_ms for x in runs),
            sum(entry.amount for entry in earned),
            sorted(days.values(), key=lambda d: d.date),
        )

    def _paid_runs(self, models: set[uuid.UUID], since: datetime) -> list[Execution]:
        return [
            x
            for x in self._rows("executions")
            if x.consumer_id is not None and x.tars_model_id in models and x.created_at >= since
        ]

    def _earned(self, developer_id: uuid.UUID, since: datetime) -> list[LedgerEntry]:
        return [
            e
            for e in self._rows("ledger_entries")
            if e.type is EntryType.EARNING and e.account_id == developer_id
            if e.created_at >= since
        ]

    async def model_figures(self, tars_model_id: uuid.UUID, since: datetime) -> Figures:
        """The model's figures since ``since`` (days with something only)."""
        model = self._store.tables["tars_models"].get(tars_model_id)
        if model is None:
            return Figures()
        earned = [e for e in self._earned(model.developer_id, since) if e.tars_model_id == model.id]
        return self._figures(self._paid_runs({model.id}, since), earned)

    async def developer_figures(self, developer_id: uuid.UUID, since: datetime) -> DeveloperFigures:
        """The developer's figures since ``since``, and a line per model."""
        models = [m for m in self._rows("tars_models") if m.developer_id == developer_id]
        models.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        runs = self._paid_runs({m.id for m in models}, since)
        earned = self._earned(developer_id, since)
        lines = []
        for model in models:
            mine = [x for x in runs if x.tars_model_id == model.id]
            lines.append(
                ModelFigures(
                    model.id,
                    model.slug,
                    model.title,
                    len(mine),
                    sum(1 for x in mine if x.status is _S.COMPLETED),
                    sum(1 for x in mine if x.is_terminal),
                    sum(e.amount for e in earned if e.tars_model_id == model.id),
                )
            )
        return DeveloperFigures(self._figures(runs, earned), lines)


def _percentiles(values: Iterable[int | None]) -> Percentiles:
    known = [float(v) for v in values if v is not None]
    return Percentiles(percentile(known, 0.5), percentile(known, 0.9))
