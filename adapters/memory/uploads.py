"""In-memory repository of consumers' uploaded files."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Collection
from datetime import datetime

from adapters.memory.repositories import Repository, keyset
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.uploads import Upload


class MemoryUploadRepository(Repository):
    """Rows of ``uploads``, with the SQL adapter's row locks on updates."""

    table = "uploads"

    async def add(self, upload: Upload) -> None:
        """Insert a new upload."""
        await self._add(upload)

    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        """The upload, or None."""
        return self._get(upload_id)  # type: ignore[no-any-return]

    async def list_for_consumer(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[Upload]:
        """The consumer's uploads, newest first."""
        rows = [copy.deepcopy(u) for u in self._rows() if u.consumer_id == consumer_id]
        return keyset(rows, page, lambda u: (u.created_at, u.id))

    async def mark_ready(self, upload_id: uuid.UUID, size: int, sha256: str | None) -> None:
        """Record that the upload's bytes are in the store."""
        found: Upload | None = self._get(upload_id)
        if found is not None:
            await self._update(
                dataclasses.replace(found, ready=True, size_bytes=size, sha256=sha256)
            )

    async def keep_until(
        self,
        consumer_id: uuid.UUID,
        upload_ids: Collection[uuid.UUID],
        until: datetime,
        now: datetime,
    ) -> set[uuid.UUID]:
        """The consumer's unexpired uploads among ``upload_ids``, each kept until ``until``."""
        kept: set[uuid.UUID] = set()
        for upload_id in upload_ids:
            found: Upload | None = self._get(upload_id)
            if found is None or found.consumer_id != consumer_id or found.expires_at <= now:
                continue
            expires = max(found.expires_at, until)
            await self._update(dataclasses.replace(found, expires_at=expires))
            kept.add(upload_id)
        return kept

    async def delete(self, upload_id: uuid.UUID) -> None:
        """Forget the upload."""
        self._tx.check()
        if self._tx.row(self.table, upload_id) is not None:
            self._tx.delete(self.table, upload_id)

    async def take_expired(self, now: datetime, limit: int) -> list[Upload]:
        """Delete up to ``limit`` uploads expired before ``now``, returning them."""
        expired = sorted(
            (copy.deepcopy(u) for u in self._rows() if u.expires_at < now),
            key=lambda u: u.expires_at,
        )[:limit]
        for upload in expired:
            self._tx.delete(self.table, upload.id)
        return expired
