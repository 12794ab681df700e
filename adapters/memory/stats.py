"""In-memory ``ExecutionStats`` over a ``MemoryStore``."""

from __future__ import annotations

from collections import Counter

from adapters.memory.uow import MemoryStore
from tarsify.domain.errors import StorageError
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus


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
