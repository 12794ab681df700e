"""The hot responses (executions, the marketplace list) rendered straight to JSON bytes.

Building a pydantic view per item and dumping it costs more than the database read for a
list page. These functions build the same documents as plain data, in the views' field
order and with the views' value formats (``views.ExecutionView``, ``views.MarketplaceItem``),
and orjson encodes them. When orjson cannot encode a value (an integer beyond 64 bits in a
provider's output, say) the caller falls back to the pydantic views, so what clients get
never depends on the fast path. ``tests/unit/test_render.py`` checks both agree byte for
byte.
"""

from __future__ import annotations

from typing import Any

import orjson

from tarsify.domain import models as m

Json = dict[str, Any]
# orjson writes an aware datetime as ``isoformat()`` does, and a naive one (SQLite) as UTC,
# which is what ``views.iso_timestamp`` makes of it.
_OPTIONS = orjson.OPT_NAIVE_UTC


def execution(view: m.ExecutionView) -> Json:
    """``serialize.execution`` as plain data."""
    e = view.execution
    error = None
    if e.error_code is not None or e.error_message is not None:
        error = {"code": e.error_code or "ERROR", "message": e.error_message or ""}
    return {
        "id": str(e.id),
        "status": e.status.value,
        "model": {"slug": view.model_slug, "title": view.model_title},
        "input": e.consumer_input,
        "output": e.output_payload,
        "error": error,
        "createdAt": e.created_at,
        "startedAt": e.started_at,
        "completedAt": e.completed_at,
        "executionTimeMs": e.execution_time_ms,
        "queueTimeMs": e.queue_time_ms,
    }


def marketplace_item(entry: m.MarketplaceEntry) -> Json:
    """``serialize.marketplace_item`` as plain data."""
    t, b = entry.tars_model, entry.base_model
    return {
        "slug": t.slug,
        "title": t.title,
        "description": t.description,
        "category": b.category.value,
        "outputType": b.output_type.value,
        "estimatedSeconds": b.estimated_seconds,
        "developerName": entry.developer_name,
        "publishedAt": t.published_at,
    }


def dumps(document: Json) -> bytes | None:
    """The document as compact JSON, or None when orjson cannot encode one of its values."""
    try:
        return orjson.dumps(document, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return None
