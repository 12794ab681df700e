"""In-memory repository of executions' stored files."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime

from adapters.memory.repositories import Repository
from tarsify.domain.files import ExecutionFile


class MemoryExecutionFileRepository(Repository):
    """Rows of ``execution_files``; keys are unique."""

    table = "execution_files"

    async def add(self, file: ExecutionFile) -> None:
        """Insert; ``AlreadyExists`` when the key is recorded already."""
        await self._add(file)

    async def list_for_execution(self, execution_id: uuid.UUID) -> list[ExecutionFile]:
        """The execution's files, oldest first, then by key (copies)."""
        rows = [r for r in self._rows() if r.execution_id == execution_id]
        rows.sort(key=lambda r: (r.created_at, r.key))
        return [copy.deepcopy(r) for r in rows]

    async def list_created_before(self, cutoff: datetime, limit: int) -> list[ExecutionFile]:
        """Up to ``limit`` files recorded before ``cutoff``, oldest first (copies)."""
        rows = sorted(
            (r for r in self._rows() if r.created_at < cutoff), key=lambda r: (r.created_at, r.key)
        )
        return [copy.deepcopy(r) for r in rows[:limit]]

    async def delete(self, file_id: uuid.UUID) -> None:
        """Forget one file row."""
        self._tx.delete(self.table, file_id)
