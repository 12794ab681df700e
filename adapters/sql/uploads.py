"""Repository of consumers' uploaded files (``uploads``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, case, delete, insert, select, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import from_row, keyset_page, to_values
from adapters.sql.tables import uploads
from adapters.sql.types import UtcDateTime
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows
from tarsify.domain.uploads import Upload

_NOW = bindparam("p_now", type_=UtcDateTime())
_UNTIL = bindparam("p_until", type_=UtcDateTime())


class SqlUploadRepository:
    """Rows of ``uploads``."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("uploads.add")
    async def add(self, upload: Upload) -> None:
        """Insert a new upload."""
        await self._db.execute(insert(uploads), to_values(upload))

    @guarded("uploads.get")
    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        """The upload, or None."""
        row = (await self._db.execute(select(uploads).where(uploads.c.id == upload_id))).mappings()
        found = row.first()
        return from_row(Upload, found) if found is not None else None

    @guarded("uploads.list_for_consumer")
    async def list_for_consumer(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[Upload]:
        """The consumer's uploads, newest first."""
        stmt = select(uploads).where(uploads.c.consumer_id == consumer_id)
        stmt = keyset_page(stmt, uploads.c.created_at, uploads.c.id, page)
        rows = (await self._db.execute(stmt)).mappings().all()
        items = [from_row(Upload, row) for row in rows]
        return page_from_rows(items, page, lambda u: Cursor(u.created_at, u.id))

    @guarded("uploads.mark_ready")
    async def mark_ready(self, upload_id: uuid.UUID, size: int, sha256: str | None) -> None:
        """Record that the upload's bytes are in the store."""
        stmt = (
            update(uploads)
            .where(uploads.c.id == upload_id)
            .values(ready=True, size_bytes=size, sha256=sha256)
        )
        await self._db.execute(stmt)

    @guarded("uploads.keep_until")
    async def keep_until(
        self,
        consumer_id: uuid.UUID,
        upload_ids: Collection[uuid.UUID],
        until: datetime,
        now: datetime,
    ) -> set[uuid.UUID]:
        """One UPDATE of the consumer's unexpired uploads among ``upload_ids``, returning
        those it kept (a concurrent sweep either deleted a row first or finds it kept)."""
        if not upload_ids:
            return set()
        stmt = (
            update(uploads)
            .where(
                uploads.c.id.in_(list(upload_ids)),
                uploads.c.consumer_id == consumer_id,
                uploads.c.expires_at > _NOW,
            )
            .values(
                expires_at=case((uploads.c.expires_at < _UNTIL, _UNTIL), else_=uploads.c.expires_at)
            )
            .returning(uploads.c.id)
        )
        rows = (await self._db.execute(stmt, {"p_now": now, "p_until": until})).all()
        return {row[0] for row in rows}

    @guarded("uploads.delete")
    async def delete(self, upload_id: uuid.UUID) -> None:
        """Forget the upload."""
        await self._db.execute(delete(uploads).where(uploads.c.id == upload_id))

    @guarded("uploads.take_expired")
    async def take_expired(self, now: datetime, limit: int) -> list[Upload]:
        """Delete up to ``limit`` uploads expired before ``now``, returning them."""
        oldest = (
            select(uploads.c.id)
            .where(uploads.c.expires_at < _NOW)
            .order_by(uploads.c.expires_at)
            .limit(limit)
            .scalar_subquery()
        )
        stmt = delete(uploads).where(uploads.c.id.in_(oldest)).returning(*uploads.c)
        rows = (await self._db.execute(stmt, {"p_now": now})).mappings().all()
        return sorted((from_row(Upload, row) for row in rows), key=lambda u: u.expires_at)
