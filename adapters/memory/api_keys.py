"""In-memory API key repository, with the conditional updates of the SQL adapter."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.memory.repositories import Repository, keyset
from tarsify.domain.api_keys import ApiKey, ApiKeyOwner
from tarsify.domain.pagination import Page, PageRequest


class MemoryApiKeyRepository(Repository):
    """API keys, by id and by the hash of the key."""

    table = "api_keys"

    async def add(self, api_key: ApiKey) -> None:
        """Insert; ``AlreadyExists`` when the hash is taken."""
        await self._add(api_key)

    async def add_within(self, api_key: ApiKey, max_active: int) -> bool:
        """Insert while the consumer has fewer than ``max_active`` unrevoked keys (its row
        locked while counting, as the SQL adapter does)."""
        self._tx.check()
        await self._tx.lock("consumers", api_key.consumer_id)
        rows = self._tx.rows(self.table).values()
        mine = sum(1 for k in rows if k.consumer_id == api_key.consumer_id and k.revoked_at is None)
        if mine >= max_active:
            return False
        await self._add(api_key)
        return True

    async def get(self, api_key_id: uuid.UUID) -> ApiKey | None:
        """By id, revoked or not."""
        return self._get(api_key_id)  # type: ignore[no-any-return]

    async def find_active(self, key_hash: str) -> ApiKeyOwner | None:
        """The unrevoked key with this hash, with its consumer."""
        found: ApiKey | None = self._find(lambda k: k.key_hash == key_hash and k.revoked_at is None)
        if found is None:
            return None
        consumer = self._tx.row("consumers", found.consumer_id)
        return ApiKeyOwner(found, consumer.uid, consumer.email, consumer.name)

    async def list_active(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[ApiKey]:
        """The consumer's unrevoked keys, newest first."""
        rows = [
            copy.deepcopy(k)
            for k in self._rows()
            if k.consumer_id == consumer_id and k.revoked_at is None
        ]
        return keyset(rows, page, lambda k: (k.created_at, k.id))

    async def revoke(self, api_key_id: uuid.UUID, now: datetime) -> bool:
        """Set ``revoked_at`` unless already revoked."""
        return await self._set_if(api_key_id, lambda k: k.revoked_at is None, {"revoked_at": now})

    async def touch(self, api_key_id: uuid.UUID, now: datetime, used_before: datetime) -> bool:
        """Set ``last_used_at`` if unset or older than ``used_before``."""
        return await self._set_if(
            api_key_id,
            lambda k: (
                k.revoked_at is None and (k.last_used_at is None or k.last_used_at < used_before)
            ),
            {"last_used_at": now},
        )

    async def _set_if(
        self, row_id: uuid.UUID, condition: Callable[[Any], bool], changes: dict[str, Any]
    ) -> bool:
        """A conditional UPDATE: lock the row, re-check on the newest version, write."""
        self._tx.check()
        if self._tx.row(self.table, row_id) is None:
            return False
        newly_locked = await self._tx.lock(self.table, row_id)
        current = self._tx.row(self.table, row_id)
        if not condition(current):
            if newly_locked:
                self._tx.unlock(self.table, row_id)  # like a row the WHERE did not match
            return False
        self._tx.put(self.table, dataclasses.replace(current, **changes), insert=False)
        return True
