"""The repository of consumers' uploaded files (their bytes live in the ``BlobStore``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.uploads import Upload


class UploadRepository(Protocol):
    """Rows of ``uploads``, one per file a consumer uploaded."""

    async def add(self, upload: Upload) -> None:
        """Insert a new upload."""
        ...

    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        """The upload, or None."""
        ...

    async def list_for_consumer(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[Upload]:
        """The consumer's uploads, newest first (keyset on ``created_at``, ``id``)."""
        ...

    async def mark_ready(self, upload_id: uuid.UUID, size: int, sha256: str | None) -> None:
        """Record that a direct upload's bytes are in the store, and their size."""
        ...

    async def keep_until(
        self,
        consumer_id: uuid.UUID,
        upload_ids: Collection[uuid.UUID],
        until: datetime,
        now: datetime,
    ) -> set[uuid.UUID]:
        """Of ``upload_ids``, the consumer's uploads that have not expired by ``now``:
        each is kept at least until ``until`` (its expiry is moved no earlier). Others'
        and expired uploads are not among those returned."""
        ...

    async def delete(self, upload_id: uuid.UUID) -> None:
        """Forget the upload (no error when absent)."""
        ...

    async def take_expired(self, now: datetime, limit: int) -> list[Upload]:
        """Delete up to ``limit`` uploads that expired before ``now`` and return them
        (oldest expiry first), so their bytes can be deleted."""
        ...
