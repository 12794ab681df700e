"""In-memory repository of streamed output and the stream readers' lease."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.memory.repositories import Repository
from tarsify.domain.streams import StreamChunk


@dataclasses.dataclass(slots=True)
class ChunkRow:
    """A stored chunk (keyed like every memory row by an ``id``)."""

    id: uuid.UUID
    execution_id: uuid.UUID
    seq: int
    event_id: int
    value: Any
    created_at: datetime


@dataclasses.dataclass(slots=True)
class ReaderLease:
    """Who reads an execution's stream, until when (``id`` is the execution's)."""

    id: uuid.UUID
    token: str | None
    until: datetime | None
    held: list[Any] = dataclasses.field(default_factory=list)


class MemoryStreamChunkRepository(Repository):
    """Rows of ``stream_chunks``; leases in ``stream_readers``."""

    table = "stream_chunks"

    async def add(self, chunks: Sequence[StreamChunk]) -> None:
        """Insert chunks."""
        for c in chunks:
            row = ChunkRow(uuid.uuid4(), c.execution_id, c.seq, c.event_id, c.value, c.created_at)
            await self._add(row)

    async def after(self, execution_id: uuid.UUID, event_id: int, limit: int) -> list[StreamChunk]:
        """The chunks after ``event_id``, in order (copies)."""
        rows = sorted(
            (r for r in self._rows() if r.execution_id == execution_id and r.event_id > event_id),
            key=lambda r: r.seq,
        )
        return [
            StreamChunk(r.execution_id, r.seq, r.event_id, r.value, r.created_at)
            for r in rows[:limit]
        ]

    async def claim_reader(
        self, execution_id: uuid.UUID, token: str, now: datetime, until: datetime
    ) -> bool:
        """Take the lease unless another token holds it unexpired."""
        self._tx.check()
        execution = self._tx.row("executions", execution_id)
        if execution is None or execution.is_terminal:
            return False
        await self._tx.lock("stream_readers", execution_id)
        lease = self._tx.row("stream_readers", execution_id)
        if lease is not None and lease.token not in (None, token):
            if lease.until is not None and lease.until >= now:
                return False
        held = [] if lease is None else lease.held
        lease = ReaderLease(execution_id, token, until, held)
        self._tx.put("stream_readers", lease, insert=False)
        return True

    async def release_reader(
        self, execution_id: uuid.UUID, token: str, held: Sequence[Any] | None = None
    ) -> bool:
        """Give the lease back if ``token`` still holds it."""
        self._tx.check()
        lease = self._tx.row("stream_readers", execution_id)
        if lease is None or lease.token != token:
            return False
        await self._tx.lock("stream_readers", execution_id)
        kept = lease.held if held is None else list(held)
        self._tx.put("stream_readers", ReaderLease(execution_id, None, None, kept), insert=False)
        return True

    async def held(self, execution_id: uuid.UUID) -> list[Any]:
        """The chunks kept unstored, in order (a copy)."""
        self._tx.check()
        lease = self._tx.row("stream_readers", execution_id)
        return [] if lease is None else list(lease.held)
