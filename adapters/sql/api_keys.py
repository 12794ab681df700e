"""API key repository: lookups by hash (unique index) and conditional updates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, or_, select, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, from_row, keyset_page, to_values
from adapters.sql.query import Query
from adapters.sql.tables import api_keys, consumers
from adapters.sql.types import UtcDateTime
from tarsify.domain.api_keys import ApiKey, ApiKeyOwner
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

_KEY = Shape(ApiKey, api_keys)
_ID, _NOW = "p_id", "p_now"
_GET = Query(select(*_KEY.columns).where(api_keys.c.id == bindparam(_ID)))
# The lookup behind every request made with a key: one indexed read, joined with the owner.
_FIND_ACTIVE = Query(
    select(*_KEY.columns, consumers.c.uid, consumers.c.email, consumers.c.name)
    .join(consumers, consumers.c.id == api_keys.c.consumer_id)
    .where(api_keys.c.key_hash == bindparam("p_hash"), api_keys.c.revoked_at.is_(None))
)
_INSERT = insert(api_keys)
_consumer = bindparam("p_consumer", type_=api_keys.c.consumer_id.type)
# PostgreSQL: the consumer's row is locked first, so concurrent adds of one consumer take
# turns and each counts after the other's insert (READ COMMITTED takes a new snapshot per
# statement); SQLite runs one writer at a time.
_LOCK_CONSUMER = select(consumers.c.id).where(consumers.c.id == _consumer).with_for_update()
_ACTIVE = (
    select(func.count())
    .select_from(api_keys)
    .where(api_keys.c.consumer_id == _consumer, api_keys.c.revoked_at.is_(None))
    .scalar_subquery()
)
_INSERT_WITHIN = insert(api_keys).from_select(
    [c.name for c in api_keys.columns],
    select(*(bindparam(c.name, type_=c.type) for c in api_keys.columns)).where(
        bindparam("p_limit", type_=Integer()) > _ACTIVE
    ),
)
_now = bindparam(_NOW, type_=UtcDateTime())
_REVOKE = (
    update(api_keys)
    .where(api_keys.c.id == bindparam(_ID), api_keys.c.revoked_at.is_(None))
    .values(revoked_at=_now)
)
_TOUCH = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam(_ID),
        api_keys.c.revoked_at.is_(None),
        or_(
            api_keys.c.last_used_at.is_(None),
            api_keys.c.last_used_at < bindparam("p_before", type_=UtcDateTime()),
        ),
    )
    .values(last_used_at=_now)
)


class SqlApiKeyRepository:
    """API keys in the ``api_keys`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("api_keys.add")
    async def add(self, api_key: ApiKey) -> None:
        """Insert; ``AlreadyExists`` when the hash is taken."""
        await self._db.execute_isolated(_INSERT, to_values(api_key))

    @guarded("api_keys.add_within")
    async def add_within(self, api_key: ApiKey, max_active: int) -> bool:
        """Insert while the consumer has fewer than ``max_active`` unrevoked keys."""
        if self._db.dialect_name == "postgresql":
            await self._db.execute(_LOCK_CONSUMER, {"p_consumer": api_key.consumer_id})
        params = to_values(api_key) | {"p_consumer": api_key.consumer_id, "p_limit": max_active}
        result = await self._db.execute_isolated(_INSERT_WITHIN, params)
        return int(result.rowcount) == 1

    @guarded("api_keys.get")
    async def get(self, api_key_id: uuid.UUID) -> ApiKey | None:
        """By id, revoked or not."""
        row = await self._db.fetch_one(_GET, {_ID: api_key_id})
        return None if row is None else _KEY.load(row)

    @guarded("api_keys.find_active")
    async def find_active(self, key_hash: str) -> ApiKeyOwner | None:
        """The unrevoked key with this hash, with its consumer."""
        row = await self._db.fetch_one(_FIND_ACTIVE, {"p_hash": key_hash})
        if row is None:
            return None
        at = _KEY.width
        return ApiKeyOwner(_KEY.load(row), row[at], row[at + 1], row[at + 2])

    @guarded("api_keys.list_active")
    async def list_active(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[ApiKey]:
        """The consumer's unrevoked keys, newest first."""
        stmt = select(api_keys).where(
            api_keys.c.consumer_id == consumer_id, api_keys.c.revoked_at.is_(None)
        )
        stmt = keyset_page(stmt, api_keys.c.created_at, api_keys.c.id, page)
        rows = (await self._db.execute(stmt)).mappings().all()
        items = [from_row(ApiKey, row) for row in rows]
        return page_from_rows(items, page, lambda k: Cursor(k.created_at, k.id))

    @guarded("api_keys.revoke")
    async def revoke(self, api_key_id: uuid.UUID, now: datetime) -> bool:
        """Set ``revoked_at`` unless already revoked."""
        result: Any = await self._db.execute(_REVOKE, {_ID: api_key_id, _NOW: now})
        return bool(result.rowcount == 1)

    @guarded("api_keys.touch")
    async def touch(self, api_key_id: uuid.UUID, now: datetime, used_before: datetime) -> bool:
        """Set ``last_used_at`` if unset or older than ``used_before``."""
        params = {_ID: api_key_id, _NOW: now, "p_before": used_before}
        result: Any = await self._db.execute(_TOUCH, params)
        return bool(result.rowcount == 1)
