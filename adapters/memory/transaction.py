"""Staged writes, key checks and row locks of one in-memory unit of work."""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from tarsify.domain.credits import SETTLEMENTS
from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.ports.repositories import FollowUp


class Store(Protocol):
    """What a transaction needs of the store it works on (``uow.MemoryStore``)."""

    tables: dict[str, dict[uuid.UUID, Any]]
    locks: dict[RowKey, object]
    down: bool
    fail_commits: bool
    commits: int

    async def wait_for_release(self, key: RowKey, owner: object) -> None:
        """Take the row lock, waiting while another owner holds it."""
        ...

    def release(self, key: RowKey, owner: object) -> None:
        """Drop one row lock of ``owner``."""
        ...

    def release_all(self, owner: object) -> None:
        """Drop every row lock of ``owner``."""
        ...


RowKey = tuple[str, uuid.UUID]

# Unique keys per table (None parts are never equal, as in SQL).
UNIQUE: dict[str, Callable[[Any], list[tuple[Any, ...]]]] = {
    "developers": lambda d: [("uid", d.uid)],
    "consumers": lambda c: [("uid", c.uid)],
    "endpoints": lambda e: [("provider_endpoint_id", e.provider, e.provider_endpoint_id)],
    "base_models": lambda b: [("slug", b.slug)],
    "tars_models": lambda t: [("slug", t.slug)],
    "executions": lambda x: [
        ("provider_job_id", x.provider_job_id),
        ("idempotency_key", x.consumer_id, x.idempotency_key),
    ],
    "execution_files": lambda f: [("key", f.key)],
    "api_keys": lambda k: [("key_hash", k.key_hash)],
    "uploads": lambda u: [],
    "execution_webhooks": lambda w: [],
    "webhook_events": lambda e: [("webhook_id", e.webhook_id)],
    "webhook_deliveries": lambda d: [("attempt", d.event_id, d.attempt)],
    "webhook_secrets": lambda s: [("consumer_id", s.consumer_id)],
    "stream_chunks": lambda c: [("seq", c.execution_id, c.seq)],
    "stream_readers": lambda r: [],
    "ledger_entries": lambda e: [
        ("execution_type", e.execution_id, e.type),
        # One settlement (CAPTURE or RELEASE) per execution, like the partial unique index.
        ("settlement", e.execution_id, e.type in SETTLEMENTS or None),
    ],
}
# Columns stored as JSON: values go through a JSON round trip, as in the database.
JSON_FIELDS: dict[str, tuple[str, ...]] = {
    "base_models": ("input_schema",),
    "tars_models": ("config_overrides",),
    "executions": ("consumer_input", "input_payload", "output_payload", "progress", "logs"),
    "stream_chunks": ("value",),
    "execution_webhooks": ("events",),
}
# Foreign keys per table: (attribute, referenced table).
FOREIGN_KEYS: dict[str, list[tuple[str, str]]] = {
    "base_models": [("endpoint_id", "endpoints")],
    "tars_models": [("developer_id", "developers"), ("base_model_id", "base_models")],
    "executions": [
        ("consumer_id", "consumers"),
        ("tars_model_id", "tars_models"),
        ("endpoint_id", "endpoints"),
    ],
    "execution_files": [("execution_id", "executions")],
    "api_keys": [("consumer_id", "consumers")],
    "uploads": [("consumer_id", "consumers")],
    "execution_webhooks": [("id", "executions"), ("consumer_id", "consumers")],
    "webhook_events": [("execution_id", "executions"), ("consumer_id", "consumers")],
    "webhook_deliveries": [("event_id", "webhook_events"), ("execution_id", "executions")],
    "webhook_secrets": [("consumer_id", "consumers")],
    "ledger_entries": [("execution_id", "executions")],
    "stream_chunks": [("execution_id", "executions")],
    "stream_readers": [("id", "executions")],
}


def _as_stored(table: str, entity: Any) -> Any:
    """A copy of ``entity`` as the database would return it: UTC times, JSON values."""
    stored = copy.deepcopy(entity)
    try:
        for field in dataclasses.fields(stored):
            value = getattr(stored, field.name)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise ValueError(f"naive datetime in {table}.{field.name}")
                setattr(stored, field.name, value.astimezone(UTC))
            elif field.name in JSON_FIELDS.get(table, ()) and value is not None:
                setattr(stored, field.name, json.loads(json.dumps(value)))
    except (TypeError, ValueError) as exc:
        raise StorageError() from exc
    return stored


class MemoryTransaction:
    """The staged writes and row locks of one unit of work."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.staged: dict[str, dict[uuid.UUID, Any]] = {name: {} for name in store.tables}
        self.inserted: set[RowKey] = set()
        self.deleted: set[RowKey] = set()
        self._ended = False  # a whole change was made: nothing more is written

    async def follow(self, written: bool, then: Sequence[FollowUp] | None) -> None:
        """After a write given ``then`` (a whole change, ``UnitOfWork``): run its
        follow-ups when it was ``written``; nothing more is written after it."""
        if then is None:
            return
        if written:
            for follow_up in then:
                await follow_up()
        self._ended = True

    def _check_open(self) -> None:
        if self._ended:
            raise RuntimeError("a unit of work wrote after its whole change")

    def check(self) -> None:
        """Raise ``StorageError`` while the store is switched down."""
        if self.store.down:
            raise StorageError()

    def rows(self, table: str) -> dict[uuid.UUID, Any]:
        """Committed rows overlaid with this transaction's writes (not copies)."""
        rows = self.store.tables[table] | self.staged[table]
        for gone_table, row_id in self.deleted:
            if gone_table == table:
                rows.pop(row_id, None)
        return rows

    def row(self, table: str, row_id: uuid.UUID) -> Any:
        """One row as this transaction sees it (not a copy), or None."""
        if (table, row_id) in self.deleted:
            return None
        staged = self.staged[table].get(row_id)
        return staged if staged is not None else self.store.tables[table].get(row_id)

    def put(self, table: str, entity: Any, *, insert: bool) -> None:
        """Stage a copy of ``entity`` after checking keys the way the database would."""
        self.check()
        self._check_open()
        current = self.rows(table)
        if insert and entity.id in current:
            raise AlreadyExists()
        self._check_unique(table, entity, current)
        for attribute, parent in FOREIGN_KEYS.get(table, []):
            value = getattr(entity, attribute)
            if value is not None and self.row(parent, value) is None:
                raise StorageError()
        self.staged[table][entity.id] = _as_stored(table, entity)
        if insert:
            self.inserted.add((table, entity.id))

    def delete(self, table: str, row_id: uuid.UUID) -> None:
        """Stage the removal of one row (nothing when it does not exist)."""
        self.check()
        self._check_open()
        self.staged[table].pop(row_id, None)
        self.deleted.add((table, row_id))

    @staticmethod
    def _check_unique(table: str, entity: Any, rows: dict[uuid.UUID, Any]) -> None:
        keys = {key for key in UNIQUE[table](entity) if None not in key}
        for other in rows.values():
            if other.id != entity.id and keys.intersection(UNIQUE[table](other)):
                raise AlreadyExists()

    async def lock(self, table: str, row_id: uuid.UUID) -> bool:
        """Take a row lock; True when it was not already held by this transaction."""
        key = (table, row_id)
        held = self.store.locks.get(key) is self
        await self.store.wait_for_release(key, self)
        return not held

    def is_locked_by_other(self, table: str, row_id: uuid.UUID) -> bool:
        """True when another transaction holds the row (``SKIP LOCKED``)."""
        owner = self.store.locks.get((table, row_id))
        return owner is not None and owner is not self

    def unlock(self, table: str, row_id: uuid.UUID) -> None:
        """Give back a row lock taken for a write that did not happen."""
        self.store.release((table, row_id), self)

    def commit(self) -> None:
        """Apply the staged writes, re-checking unique keys against newer commits."""
        try:
            self.check()
            if self.store.fail_commits:
                raise StorageError()
            for table, staged in self.staged.items():
                committed = self.store.tables[table]
                for entity in staged.values():
                    if (table, entity.id) in self.inserted and entity.id in committed:
                        raise AlreadyExists()
                    self._check_unique(table, entity, committed)
            for table, staged in self.staged.items():
                self.store.tables[table].update(staged)
            for table, row_id in self.deleted:
                self.store.tables[table].pop(row_id, None)
            self.store.commits += 1
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget the staged writes and release the row locks."""
        for staged in self.staged.values():
            staged.clear()
        self.inserted.clear()
        self.deleted.clear()
        self.store.release_all(self)
