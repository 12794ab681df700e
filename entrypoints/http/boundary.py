"""The input boundary: whatever a request brings in must be storable by every backend.

PostgreSQL refuses NUL characters in text and JSON, no UTF-8 encoder takes an unpaired
surrogate, and NaN or Infinity are not JSON (Python's decoder accepts them anyway). Such
values are refused here, once, with the field they were found in, before any use case
runs: JSON bodies in ``params.body``, path and query values in ``boundary_middleware``,
token claims in ``auth.identity``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

from tarsify.domain.errors import InvalidBody, InvalidPath, InvalidQuery, InvalidToken
from tarsify.domain.models import (
    MAX_ACCOUNT_NAME_CHARS,
    MAX_EMAIL_CHARS,
    MAX_UID_CHARS,
    Identity,
)

from .routing import Handler

# Deeper JSON is refused: it serves no input schema and would exhaust recursion later.
MAX_DEPTH = 64
MAX_PROBLEMS = 20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
SURROGATE_MESSAGE = "must not contain unpaired surrogates (not valid Unicode)"
NON_FINITE_MESSAGE = (
    "must be a finite number within the range of a double (NaN, Infinity and numbers "
    "beyond ±1.8e308 are refused)"
)
# The longest integer text a double can hold: "-" and 309 digits.
MAX_INT_CHARS = 310


# Identity claims are kept on the account (the same limits for developers and consumers).
CLAIM_LIMITS = {"sub": MAX_UID_CHARS, "email": MAX_EMAIL_CHARS, "name": MAX_ACCOUNT_NAME_CHARS}


class _NonFinite:
    """What the strict decoder puts where the body had NaN, Infinity or 1e999."""


_NON_FINITE = _NonFinite()


def _finite_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def _float_range_int(text: str) -> int | _NonFinite:
    """An integer a double can hold (about ±1.8e308); larger ones are refused like 1e999
    (no schema bound or default needs one, and no JSON client can read it back)."""
    if len(text) > MAX_INT_CHARS:
        return _NON_FINITE
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return _NON_FINITE
    return value


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored (None when it can)."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def _join(path: str, key: object) -> str:
    # Field names are written escaped when they hold what they are refused for.
    name = str(key).encode("unicode_escape").decode() if text_problem(str(key)) else str(key)
    return f"{path}.{name}" if path else name


def _walk(value: Any, path: str, depth: int, problems: list[dict[str, str]]) -> None:
    if len(problems) >= MAX_PROBLEMS:
        return
    if depth > MAX_DEPTH:
        problems.append({"field": path or "$", "message": f"nested deeper than {MAX_DEPTH}"})
    elif isinstance(value, str):
        problem = text_problem(value)
        if problem:
            problems.append({"field": path or "$", "message": problem})
    elif isinstance(value, _NonFinite):
        problems.append({"field": path or "$", "message": NON_FINITE_MESSAGE})
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                problems.append({"field": _join(path, key), "message": f"name {problem}"})
            _walk(item, _join(path, key), depth + 1, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, _join(path, index), depth + 1, problems)


def check_json(raw: bytes) -> Any:
    """The JSON document ``raw``, refused with ``InvalidBody`` (ERR_2001) when it is not
    well-formed JSON or holds a value no backend can store (details name each field)."""
    try:
        document = json.loads(
            raw,
            parse_constant=lambda _: _NON_FINITE,
            parse_float=_finite_float,
            parse_int=_float_range_int,
        )
    except RecursionError:
        raise InvalidBody(
            "Malformed JSON body",
            details=[{"field": "$", "message": f"nested deeper than {MAX_DEPTH}"}],
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 JSON"
        raise InvalidBody(
            "Malformed JSON body", details=[{"field": "$", "message": message}]
        ) from None
    problems: list[dict[str, str]] = []
    _walk(document, "", 0, problems)
    if problems:
        raise InvalidBody("The body holds values that cannot be stored", details=problems)
    return document


def claims_problems(identity: Identity) -> list[dict[str, str]]:
    """Why the identity's claims cannot be stored as an account (empty when they can)."""
    problems = []
    for claim, value in (("sub", identity.uid), ("email", identity.email), ("name", identity.name)):
        if value is None:
            continue
        problem = text_problem(value)
        if problem is None and len(value) > CLAIM_LIMITS[claim]:
            problem = f"longer than {CLAIM_LIMITS[claim]} characters"
        if problem:
            problems.append({"field": f"token.{claim}", "message": problem})
    return problems


def check_identity(identity: Identity) -> Identity:
    """``identity``, or ``InvalidToken`` (ERR_1002) when its claims cannot be stored."""
    problems = claims_problems(identity)
    if problems:
        raise InvalidToken("Token claims cannot be used for an account", details=problems)
    return identity


@web.middleware
async def boundary_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse path (ERR_2003) and query (ERR_2002) values that cannot be stored."""
    for name, value in request.match_info.items():
        problem = text_problem(value)
        if problem:
            raise InvalidPath(
                f"Invalid path parameter '{name}'", details=[{"field": name, "message": problem}]
            )
    for name, value in request.query.items():
        problem = text_problem(value) or text_problem(name)
        if problem:
            field = _join("", name)
            raise InvalidQuery(
                f"Invalid query parameter '{field}'", details=[{"field": field, "message": problem}]
            )
    return await handler(request)
