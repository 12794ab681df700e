"""Storage of streamed output: the chunks of streaming executions, and the lease that
lets one process at a time read a job's stream from the provider."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from tarsify.domain.streams import StreamChunk


class StreamChunkRepository(Protocol):
    """The stored chunks of executions, and their readers' leases."""

    async def add(self, chunks: Sequence[StreamChunk]) -> None:
        """Insert chunks (a follow-up of the change that counts them)."""
        ...

    async def after(self, execution_id: uuid.UUID, event_id: int, limit: int) -> list[StreamChunk]:
        """Up to ``limit`` of the execution's chunks whose ``event_id`` is greater than
        ``event_id``, in order."""
        ...

    async def claim_reader(
        self, execution_id: uuid.UUID, token: str, now: datetime, until: datetime
    ) -> bool:
        """Take the right to read the execution's stream at the provider until ``until``
        (as ``token``); False while another token holds it unexpired. A whole change on
        its own: commit right after."""
        ...

    async def release_reader(
        self, execution_id: uuid.UUID, token: str, held: Sequence[Any] | None = None
    ) -> bool:
        """Give the right back; False when ``token`` no longer held it (it expired and
        another reader took it). ``held`` (when not None) replaces the chunks kept
        unstored (``held``)."""
        ...

    async def held(self, execution_id: uuid.UUID) -> list[Any]:
        """The chunks read from the provider but not stored yet (their files wait for
        the blob store), in order; they come before any chunk read later."""
        ...
