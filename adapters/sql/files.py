"""Repository of executions' stored files (``execution_files``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, to_values
from adapters.sql.query import Query
from adapters.sql.tables import execution_files
from adapters.sql.types import UtcDateTime
from tarsify.domain.files import ExecutionFile

_SHAPE = Shape(ExecutionFile, execution_files)
_BY_EXECUTION = Query(
    select(*_SHAPE.columns)
    .where(execution_files.c.execution_id == bindparam("p_execution_id"))
    .order_by(execution_files.c.created_at, execution_files.c.key)
)
_INSERT = insert(execution_files)
_DELETE = delete(execution_files).where(execution_files.c.id == bindparam("p_id"))


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

    @guarded("execution_files.list_created_before")
    async def list_created_before(self, cutoff: datetime, limit: int) -> list[ExecutionFile]:
        """Up to ``limit`` files recorded before ``cutoff``, oldest first."""
        stmt = (
            select(*_SHAPE.columns)
            .where(execution_files.c.created_at < bindparam("p_cutoff", type_=UtcDateTime()))
            .order_by(execution_files.c.created_at, execution_files.c.key)
            .limit(limit)
        )
        rows = (await self._db.execute(stmt, {"p_cutoff": cutoff})).all()
        return [_SHAPE.load(row) for row in rows]

    @guarded("execution_files.delete")
    async def delete(self, file_id: uuid.UUID) -> None:
        """Forget one file row."""
        await self._db.execute(_DELETE, {"p_id": file_id})
