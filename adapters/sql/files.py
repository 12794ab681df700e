"""Repository of executions' stored files (``execution_files``)."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, insert, select

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, to_values
from adapters.sql.query import Query
from adapters.sql.tables import execution_files
from tarsify.domain.files import ExecutionFile

_SHAPE = Shape(ExecutionFile, execution_files)
_BY_EXECUTION = Query(
    select(*_SHAPE.columns)
    .where(execution_files.c.execution_id == bindparam("p_execution_id"))
    .order_by(execution_files.c.created_at, execution_files.c.key)
)
_INSERT = insert(execution_files)


class SqlExecutionFileRepository:
    """Rows of ``execution_files``; keys are unique."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("execution_files.add")
    async def add(self, file: ExecutionFile) -> None:
        """Insert; ``AlreadyExists`` when the key is recorded already."""
        await self._db.execute_isolated(_INSERT, to_values(file))

    @guarded("execution_files.list_for_execution")
    async def list_for_execution(self, execution_id: uuid.UUID) -> list[ExecutionFile]:
        """The execution's files, oldest first, then by key."""
        rows = await self._db.fetch(_BY_EXECUTION, {"p_execution_id": execution_id})
        return [_SHAPE.load(row) for row in rows]
