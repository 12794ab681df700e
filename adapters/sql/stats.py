"""SQL ``ExecutionStats``: one ``GROUP BY status`` over the executions table."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.errors import guarded
from adapters.sql.tables import executions
from tarsify.domain.models import ExecutionStatus


class SqlExecutionStats:
    """Counts executions per status; the status index keeps it an index scan."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @guarded("stats.count_by_status")
    async def count_by_status(self) -> dict[ExecutionStatus, int]:
        """Executions per status (statuses with none are absent)."""
        query = select(executions.c.status, func.count()).group_by(executions.c.status)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {ExecutionStatus(status): int(count) for status, count in rows}
