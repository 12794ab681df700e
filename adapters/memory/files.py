"""In-memory repository of executions' stored files."""

from __future__ import annotations

import copy
import uuid

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
