"""Keyset pagination: opaque cursors over ``(timestamp, id)``, newest first.

A cursor names the last row of the previous page; the next page holds rows strictly
older in ``(timestamp, id)`` order, so inserts while paging never shift a page. The
timestamp is ``created_at`` for most lists and ``published_at`` for the marketplace.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from tarsify.domain.errors import InvalidQuery

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# An encoded cursor is ~100 characters; the bound keeps decoding cheap.
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}")
# What ``datetime.isoformat`` writes for a UTC instant: no other offset is ever issued.
_UTC_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?\+00:00")


@dataclass(slots=True, frozen=True)
class Cursor:
    """Position after which the next page starts (exclusive)."""

    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        """Opaque, URL-safe text form handed to clients (the instant always in UTC)."""
        # A naive instant is UTC (as every stored one is); never the machine's local time.
        at = self.at.astimezone(UTC) if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        raw = json.dumps([at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from a client; raises ``InvalidQuery`` unless ``encode`` made it.

        Only the exact form ``encode`` writes is accepted (UTC offset, canonical UUID,
        unpadded base64url): anything else, however close, was not issued by us.
        """
        try:
            return cls._strict(text)
        except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
            raise InvalidQuery(
                "Invalid cursor",
                details=[{"field": "cursor", "message": "not a cursor from a previous page"}],
            ) from exc

    @classmethod
    def _strict(cls, text: str) -> Cursor:
        if not _CURSOR_TEXT.fullmatch(text):
            raise ValueError("not base64url text of a cursor's size")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        parts = json.loads(raw.decode("ascii"))
        if not isinstance(parts, list) or len(parts) != 2:
            raise ValueError("not a [timestamp, id] pair")
        stamp, ident = parts
        if not isinstance(stamp, str) or not _UTC_STAMP.fullmatch(stamp):
            raise ValueError("timestamp not in the issued form")
        if not isinstance(ident, str):
            raise ValueError("id is not a string")
        cursor = cls(at=datetime.fromisoformat(stamp), id=uuid.UUID(ident))
        if cursor.encode() != text:
            # Same values written differently (padding, spacing, upper-case UUID...).
            raise ValueError("not in the issued form")
        return cursor


@dataclass(slots=True, frozen=True)
class PageRequest:
    """What page to read: at most ``limit`` rows strictly after ``after``."""

    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(
                f"limit must be between 1 and {MAX_LIMIT}",
                details=[{"field": "limit", "message": f"must be between 1 and {MAX_LIMIT}"}],
            )


@dataclass(slots=True, frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def page_from_rows(rows: list[T], request: PageRequest, key_of: Callable[[T], Cursor]) -> Page[T]:
    """Build a page from up to ``limit + 1`` fetched rows, newest first.

    Repositories fetch one extra row to learn whether another page exists without COUNT.
    """
    if len(rows) > request.limit:
        items = rows[: request.limit]
        return Page(items=items, next_cursor=key_of(items[-1]).encode())
    return Page(items=rows, next_cursor=None)
