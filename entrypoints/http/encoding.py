"""Answers built as plain data (``Json``) and written by orjson.

Building a pydantic view per item and dumping it costs more than the database read for a
list page, so the hot answers (an execution, a marketplace list item) are built as plain
data by their resource's ``schemas_<resource>.py`` and encoded here; their pydantic
views only describe them in the OpenAPI document (``tests/unit/test_render.py`` validates
every rendering against them). A value orjson cannot encode (an integer beyond 64 bits
in a worker's output) is encoded by the standard library instead, in the same format.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

from tarsify.domain.jsonsafe import StoredJson

Json = dict[str, Any]
# orjson writes an aware datetime as ``isoformat()`` does, and a naive one (SQLite) as UTC,
# which is what ``schemas.iso_timestamp`` makes of it.
_OPTIONS = orjson.OPT_NAIVE_UTC


def dumps(document: Json) -> bytes:
    """The document as compact JSON (a ``StoredJson`` is written as its stored text)."""
    try:
        return orjson.dumps(document, default=_stored, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included: an integer beyond 64 bits
        text = json.dumps(
            document, separators=(",", ":"), ensure_ascii=False, default=_plain, allow_nan=False
        )
        return text.encode("utf-8", "surrogatepass")


def _stored(value: Any) -> Any:
    """orjson's hook for a ``StoredJson``: its text, as it is."""
    if isinstance(value, StoredJson):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _plain(value: Any) -> Any:
    """What orjson writes for the non-JSON values these documents hold."""
    if isinstance(value, StoredJson):
        return value.value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat()
    if isinstance(value, uuid.UUID | Enum):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
