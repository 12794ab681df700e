"""Repository of streamed output (``stream_chunks``) and the stream readers' lease
(``stream_readers``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.tables import stream_chunks, stream_readers
from adapters.sql.types import UtcDateTime
from tarsify.domain.streams import StreamChunk

_C = stream_chunks.c
_R = stream_readers.c
_AFTER = (
    select(_C.execution_id, _C.seq, _C.event_id, _C.value, _C.created_at)
    .where(_C.execution_id == bindparam("p_execution_id"), _C.event_id > bindparam("p_after"))
    .order_by(_C.seq)
    .limit(bindparam("p_limit"))
)
_TAKE = (
    update(stream_readers)
    .where(
        _R.execution_id == bindparam("p_execution_id"),
        or_(
            _R.token.is_(None),
            _R.lease_until < bindparam("p_now", type_=UtcDateTime()),
            _R.token == bindparam("p_token"),
        ),
    )
    .values(token=bindparam("p_token"), lease_until=bindparam("p_until"))
)
_RELEASE = (
    update(stream_readers)
    .where(_R.execution_id == bindparam("p_execution_id"), _R.token == bindparam("p_token"))
    .values(token=None, lease_until=None)
)
_HELD = select(_R.held).where(_R.execution_id == bindparam("p_execution_id"))


class SqlStreamChunkRepository:
    """Rows of ``stream_chunks`` and ``stream_readers``."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("stream_chunks.add")
    async def add(self, chunks: Sequence[StreamChunk]) -> None:
        """Insert chunks (one statement)."""
        if not chunks:
            return
        rows = [
            {
                "execution_id": c.execution_id,
                "seq": c.seq,
                "event_id": c.event_id,
                "value": c.value,
                "created_at": c.created_at,
            }
            for c in chunks
        ]
        await self._db.execute(insert(stream_chunks), rows)

    @guarded("stream_chunks.after")
    async def after(self, execution_id: uuid.UUID, event_id: int, limit: int) -> list[StreamChunk]:
        """The chunks after ``event_id``, in order."""
        params = {"p_execution_id": execution_id, "p_after": event_id, "p_limit": limit}
        rows = (await self._db.execute(_AFTER, params)).all()
        return [StreamChunk(*row) for row in rows]

    @guarded("stream_readers.claim")
    async def claim_reader(
        self, execution_id: uuid.UUID, token: str, now: datetime, until: datetime
    ) -> bool:
        """Take the lease unless another token holds it unexpired: the execution's first
        reader inserts its row, later ones update it."""
        params = {"p_execution_id": execution_id, "p_token": token, "p_now": now, "p_until": until}
        if int((await self._db.execute(_TAKE, params)).rowcount) == 1:
            return True
        dialect: Any = postgresql if self._db.dialect_name == "postgresql" else sqlite
        first = (
            dialect.insert(stream_readers)
            .values(execution_id=execution_id, token=token, lease_until=until)
            .on_conflict_do_nothing(index_elements=["execution_id"])
        )
        return int((await self._db.execute(first)).rowcount) == 1

    @guarded("stream_readers.release")
    async def release_reader(
        self, execution_id: uuid.UUID, token: str, held: Sequence[Any] | None = None
    ) -> bool:
        """Give the lease back if ``token`` still holds it (and replace the held chunks
        when ``held`` is given)."""
        params = {"p_execution_id": execution_id, "p_token": token}
        statement = _RELEASE
        if held is not None:
            statement = _RELEASE.values(held=list(held) or None)
        return int((await self._db.execute(statement, params)).rowcount) == 1

    @guarded("stream_readers.held")
    async def held(self, execution_id: uuid.UUID) -> list[Any]:
        """The chunks kept unstored, in order."""
        value = (await self._db.execute(_HELD, {"p_execution_id": execution_id})).scalar()
        return list(value) if isinstance(value, list) else []
