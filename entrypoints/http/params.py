"""Reading requests: JSON bodies into request models, path ids, query and header values."""

from __future__ import annotations

import math
import re
import uuid
from enum import StrEnum
from typing import TypeVar

from aiohttp import web
from pydantic import ValidationError

from tarsify.domain.errors import InvalidBody, InvalidPath, InvalidQuery
from tarsify.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest

from .boundary import check_json
from .routing import Param
from .schemas import RequestModel

M = TypeVar("M", bound=RequestModel)
E = TypeVar("E", bound=StrEnum)

MAX_WAIT_S = 60
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
LIMIT_RE = re.compile(r"^[0-9]{1,3}$")
SLUG_QUERY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

LIST_PARAMS = (
    Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "Page size",
    ),
    Param(
        "cursor",
        {"type": "string", "minLength": 1, "maxLength": 512},
        "Opaque cursor from the previous page's meta.nextCursor",
    ),
)


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "$"
        problems.append({"field": field, "message": error["msg"]})
    return problems


async def body(request: web.Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The request body as ``model``; ``InvalidBody`` (ERR_2001) with per-field details.

    A body over MAX_BODY_BYTES raises aiohttp's 413, mapped by the error middleware.
    Values no backend can store are refused first (``boundary.check_json``).
    """
    raw = await request.read()
    if empty_ok and not raw.strip():
        raw = b"{}"
    # Well-formed, storable JSON first (NUL, unpaired surrogates, NaN/Infinity refused
    # with their field); then the request model's own rules, on the same bytes.
    check_json(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = _problems(exc)
        if any(p["field"] == "$" and "JSON" in p["message"] for p in problems):
            raise InvalidBody("Malformed JSON body", details=problems) from None
        raise InvalidBody(details=problems) from None


def path_id(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID path parameter; ``InvalidPath`` (ERR_2003) when it is not one."""
    raw = request.match_info.get(name, "")
    if not UUID_RE.fullmatch(raw):
        # Only the canonical 8-4-4-4-12 form: one id, one URL.
        raise InvalidPath(
            f"'{name}' must be a UUID", details=[{"field": name, "message": "must be a UUID"}]
        )
    return uuid.UUID(raw)


def _query_error(name: str, message: str) -> InvalidQuery:
    return InvalidQuery(
        f"Invalid '{name}': {message}", details=[{"field": name, "message": message}]
    )


def page_request(request: web.Request) -> PageRequest:
    """``?limit=`` (1..100, default 20) and ``?cursor=``; ``InvalidQuery`` when malformed."""
    raw_limit = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not LIMIT_RE.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise _query_error("limit", f"must be an integer between 1 and {MAX_LIMIT}")
        limit = int(raw_limit)
    raw_cursor = request.query.get("cursor")
    after = None
    if raw_cursor is not None:
        if not raw_cursor or len(raw_cursor) > 512:
            raise _query_error("cursor", "not a cursor returned by this list")
        after = Cursor.decode(raw_cursor)
    return PageRequest(limit=limit, after=after)


def enum_query(request: web.Request, name: str, enum: type[E]) -> E | None:
    """An optional enum query parameter; ``InvalidQuery`` for unknown values."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise _query_error(name, f"must be one of {allowed}") from None


def slug_query(request: web.Request, name: str) -> str | None:
    """An optional slug query parameter; ``InvalidQuery`` when not slug-shaped."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if not 1 <= len(raw) <= 200 or not SLUG_QUERY_RE.fullmatch(raw):
        raise _query_error(name, "must be a model slug")
    return raw


DAYS_RE = re.compile(r"^[0-9]{1,3}$")


def days_query(request: web.Request, default: int, maximum: int) -> int:
    """``?days=``: a whole number of days, 1..``maximum`` (``default`` when absent)."""
    raw = request.query.get("days")
    if raw is None:
        return default
    if not DAYS_RE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise _query_error("days", f"must be an integer between 1 and {maximum}")
    return int(raw)


def wait_seconds(request: web.Request) -> float:
    """``?wait=`` seconds to wait for a terminal status (0..60, default 0)."""
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_S:
        raise _query_error("wait", f"must be a number of seconds between 0 and {MAX_WAIT_S}")
    return value


def idempotency_key(request: web.Request) -> str | None:
    """The optional ``Idempotency-Key`` header (1..255 printable ASCII characters)."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not IDEMPOTENCY_KEY_RE.fullmatch(raw):
        raise InvalidQuery(
            "Invalid Idempotency-Key header",
            details=[
                {
                    "field": "Idempotency-Key",
                    "message": "1-255 printable ASCII characters, no surrounding spaces",
                }
            ],
        )
    return raw
