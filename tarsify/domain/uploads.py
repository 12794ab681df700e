"""Files that consumers upload to use as run inputs: the upload, its blob key, and the
two ways a run's inputs name it.

An input names an upload as ``tarsify://files/{id}`` (the *reference*, which is what an
execution stores) or by a link to its bytes (the ``url`` its upload answered, signed or
presigned by the blob store). Only top-level strings, and strings in top-level lists,
of fields whose schema says ``format: uri`` are read as links; a reference is one
wherever it appears at the top level, so none reaches a worker unchecked.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarsify.domain.media import GENERIC_TYPES, OCTET_STREAM, clean_type, sniff

REFERENCE_PREFIX = "tarsify://files/"
UPLOADS_PREFIX = "uploads/"
# Stands for a ``tarsify://files/...`` whose id is not a UUID: no upload has it.
NO_SUCH_UPLOAD = uuid.UUID(int=0)
NAME_MAX_CHARS = 255
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_LINK_ID_RE = re.compile(rf"({_UUID})(?:[?#]|$)")
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
# Types whose leading bytes say what they are: a declared one of these must match them.
SNIFFABLE = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "audio/wav",
        "audio/mpeg",
        "audio/flac",
        "audio/ogg",
        "video/mp4",
        "application/pdf",
    }
)


@dataclass(slots=True)
class Upload:
    """A consumer's uploaded file. ``sha256`` is None (and ``size_bytes`` the declared
    size) for a direct upload until its bytes are found in the store (``ready``)."""

    id: uuid.UUID
    consumer_id: uuid.UUID
    name: str
    content_type: str
    size_bytes: int
    sha256: str | None
    created_at: datetime
    expires_at: datetime
    ready: bool = True

    @property
    def key(self) -> str:
        """Where its bytes are in the blob store."""
        return upload_key(self.id)


def upload_key(upload_id: uuid.UUID) -> str:
    """The blob key of an upload's bytes."""
    return f"{UPLOADS_PREFIX}{upload_id}"


def reference_of(upload_id: uuid.UUID) -> str:
    """The reference to an upload that an execution's input stores."""
    return f"{REFERENCE_PREFIX}{upload_id}"


def clean_name(name: str | None) -> str:
    """A file name fit to show: no path, no control characters, at most 255 characters."""
    text = _NAME_UNSAFE.sub("_", (name or "").strip()) or "file"
    return text[-NAME_MAX_CHARS:]


def content_type_of(head: bytes, declared: str | None) -> str | None:
    """The type to keep an upload under, from its declared type and its first bytes; None
    when they disagree (a declared PNG whose bytes are not one).

    Bytes with a known signature are that type (a generic or missing declaration takes
    it); a declared type with a signature the bytes lack is refused; other declarations
    are kept as they are (cleaned).
    """
    sniffed = sniff(head)
    cleaned = clean_type(declared)
    if cleaned is None or cleaned in GENERIC_TYPES:
        return sniffed or OCTET_STREAM
    if cleaned in SNIFFABLE and sniffed != cleaned:
        return None
    if sniffed is not None and sniffed != cleaned:
        return None
    return cleaned


def reference_id(value: Any) -> uuid.UUID | None:
    """The upload ``value`` refers to as ``tarsify://files/{id}`` (``NO_SUCH_UPLOAD`` for
    a malformed id); None when it is not a reference."""
    if not isinstance(value, str) or not value.startswith(REFERENCE_PREFIX):
        return None
    try:
        return uuid.UUID(value[len(REFERENCE_PREFIX) :])
    except ValueError:
        return NO_SUCH_UPLOAD


def link_id(value: Any, link_prefix: str) -> uuid.UUID | None:
    """The upload whose bytes ``value`` links to, when it starts with the store's
    ``link_prefix`` followed by ``uploads/``; None otherwise."""
    if not isinstance(value, str) or not link_prefix:
        return None
    start = link_prefix + UPLOADS_PREFIX
    if not value.startswith(start):
        return None
    match = _LINK_ID_RE.match(value, len(start))
    return uuid.UUID(match.group(1)) if match else NO_SUCH_UPLOAD


def uri_fields(schema: Any) -> frozenset[str]:
    """The top-level properties of an input schema whose strings are URIs (``format:
    uri``, directly or as the items of an array)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return frozenset()
    found = set()
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        items = spec.get("items")
        if spec.get("format") in ("uri", "uri-reference") or (
            isinstance(items, dict) and items.get("format") in ("uri", "uri-reference")
        ):
            found.add(str(name))
    return frozenset(found)


def map_top_strings(payload: dict[str, Any], change: Any) -> dict[str, Any]:
    """``payload`` with ``change(field, text)`` applied to each top-level string and each
    string of a top-level list (``change`` returns the new text)."""
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if isinstance(value, str):
            out[name] = change(name, value)
        elif isinstance(value, list):
            out[name] = [change(name, v) if isinstance(v, str) else v for v in value]
        else:
            out[name] = value
    return out
