"""Uploads named in a run's inputs: links become references before the inputs are
checked and stored, references are checked to be the consumer's own (and kept while
the execution may need them), and the worker gets fresh signed links in their place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tarsify.domain.errors import BlobNotFound, InputValidationFailed
from tarsify.domain.models import JsonObject
from tarsify.domain.uploads import (
    NO_SUCH_UPLOAD,
    link_id,
    map_top_strings,
    reference_id,
    reference_of,
    upload_key,
    uri_fields,
)
from tarsify.ports.clock import Clock
from tarsify.ports.files import BlobStore
from tarsify.ports.storage import UnitOfWorkFactory

PROBE_KEY = "uploads/probe"
NOT_YOURS = "is not one of your files (or it has expired or been deleted)"
NOT_UPLOADED = "names a file whose bytes have not been uploaded yet"
# A link to an input file outlives the execution's deadline by this much (clock skew,
# a worker that starts reading just before the deadline).
LINK_MARGIN_S = 300
MAX_LINK_S = 7 * 24 * 3600  # S3 presigned URLs cannot live longer


class InputFiles:
    """Resolves and signs the uploads of run inputs against one blob store."""

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore, clock: Clock) -> None:
        self._uow = uow
        self._blobs = blobs
        self._clock = clock
        self._prefix: str | None = None

    async def link_prefix(self) -> str:
        """What every link of the store starts with, before the key (learnt once)."""
        if self._prefix is None:
            probe = await self._blobs.url(PROBE_KEY, 60)
            self._prefix = probe[: probe.index(PROBE_KEY)]
        return self._prefix

    async def named(self, inputs: JsonObject, schema: Any) -> JsonObject:
        """``inputs`` with each link to an upload in a ``format: uri`` field replaced by
        the upload's reference (the same object when there is none)."""
        fields = uri_fields(schema)
        if not fields or not any(f in inputs for f in fields):
            return inputs
        prefix = await self.link_prefix()
        changed = False

        def to_reference(field: str, text: str) -> str:
            nonlocal changed
            found = link_id(text, prefix) if field in fields else None
            if found is None:
                return text
            changed = True
            return reference_of(found)

        named = map_top_strings(inputs, to_reference)
        return named if changed else inputs

    async def claim(
        self, consumer_id: uuid.UUID | None, payload: JsonObject, until: datetime
    ) -> None:
        """Check that every upload the payload refers to is the consumer's own, ready and
        unexpired, and keep each at least until ``until``; otherwise
        ``InputValidationFailed`` naming the fields. A run without a consumer (a
        developer's test run) owns no uploads: every reference is refused."""
        wanted = _references(payload)
        if not wanted:
            return
        if consumer_id is None:
            details = [{"field": f, "message": NOT_YOURS} for f in sorted(wanted)]
            raise InputValidationFailed(details=details)
        now = self._clock.now()
        refused: dict[str, str] = {}
        ids = {i for i in wanted.values() if i != NO_SUCH_UPLOAD}
        async with self._uow() as uow:
            rows = {i: await uow.uploads.get(i) for i in ids}
        for upload_id, row in rows.items():
            if row is None or row.consumer_id != consumer_id or row.ready:
                continue
            try:  # a direct upload: usable once its bytes are in the store
                stored = await self._blobs.head(row.key)
            except BlobNotFound:
                refused.update({f: NOT_UPLOADED for f, i in wanted.items() if i == upload_id})
                continue
            async with self._uow() as uow:
                await uow.uploads.mark_ready(upload_id, stored.size, None)
                await uow.commit()
        async with self._uow() as uow:
            kept = await uow.uploads.keep_until(consumer_id, ids, until, now)
            await uow.commit()
        for field, upload_id in wanted.items():
            if upload_id not in kept and field not in refused:
                refused[field] = NOT_YOURS
        if refused:
            details = [{"field": f, "message": m} for f, m in sorted(refused.items())]
            raise InputValidationFailed(details=details)

    async def signed(self, payload: dict[str, Any], until: datetime | None) -> dict[str, Any]:
        """``payload`` with each reference replaced by a link to the bytes that works
        until ``until`` (and a margin); the same object when it has none."""
        if not _references(payload):
            return payload
        now = self._clock.now()
        seconds = LINK_MARGIN_S + (int((until - now).total_seconds()) if until else 3600)
        seconds = min(max(seconds, LINK_MARGIN_S), MAX_LINK_S)
        links: dict[uuid.UUID, str] = {}
        for upload_id in set(_references(payload).values()):
            if upload_id != NO_SUCH_UPLOAD:
                links[upload_id] = await self._blobs.url(upload_key(upload_id), seconds)

        def to_link(_: str, text: str) -> str:
            found = reference_id(text)
            return links.get(found, text) if found is not None else text

        return map_top_strings(payload, to_link)


def _references(payload: JsonObject) -> dict[str, uuid.UUID]:
    """Each top-level field (``name`` or ``name[i]``) holding a reference, with its id."""
    found: dict[str, uuid.UUID] = {}
    for name, value in payload.items():
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            upload_id = reference_id(item)
            if upload_id is not None:
                found[f"{name}[{index}]" if isinstance(value, list) else name] = upload_id
    return found
