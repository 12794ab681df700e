"""Keyset pagination: opaque cursors over ``(timestamp, id)``, newest first.

A cursor names the last row of the previous page; the next page holds rows strictly
older in ``(timestamp, id)`` order, so inserts while paging never shift a page. The
timestamp is ``created_at`` for most lists and ``published_at`` for the marketplace.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from tarsify.domain.errors import InvalidQuery

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(slots=True, frozen=True)
class Cursor:
    """Position after which the next page starts (exclusive)."""

    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        """Opaque, URL-safe text form handed to clients."""
        raw = json.dumps([self.at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from a client; raises ``InvalidQuery`` when it is not ours."""
        try:
            padded = text + "=" * (-len(text) % 4)
            created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
            at = datetime.fromisoformat(created)
            if at.tzinfo is None:
                raise ValueError("naive timestamp")
            return cls(at=at, id=uuid.UUID(ident))
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
            raise InvalidQuery(
                "Invalid cursor",
                details=[{"field": "cursor", "message": "not a cursor from a previous page"}],
            ) from exc


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
