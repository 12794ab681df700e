"""Making what a GPU worker returned storable and sendable as JSON.

Python workers can emit values that are legal in Python's ``json`` but not in strict JSON
or PostgreSQL's JSONB: NUL characters, lone UTF-16 surrogates, NaN and the infinities,
non-string keys. ``json_safe`` is the one place that turns any such value into plain,
strict JSON, and counts what it had to change so the change can be recorded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# A JSON object as the core keeps it (input schemas, payloads, configurations).
JsonObject = dict[str, Any]
REPLACEMENT = "\ufffd"
MAX_DEPTH = 64


@dataclass(slots=True)
class Repairs:
    """How many values ``json_safe`` had to change, by kind."""

    strings: int = 0
    numbers: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        """All repairs together."""
        return self.strings + self.numbers + self.other


def safe_text(text: str, repairs: Repairs | None = None) -> str:
    """``text`` without NUL characters and lone surrogates (each becomes U+FFFD)."""
    if "\x00" not in text and text.isascii():
        return text
    try:
        text.encode("utf-8")
        clean = text
    except UnicodeEncodeError:  # lone surrogates: one replacement character each
        clean = "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in text)
    clean = clean.replace("\x00", REPLACEMENT)
    if repairs is not None and clean != text:
        repairs.strings += 1
    return clean


def json_safe(value: Any, repairs: Repairs | None = None, _depth: int = 0) -> Any:
    """A copy of ``value`` that strict JSON and JSONB accept.

    NUL and lone surrogates in strings (and keys) become U+FFFD; NaN and the infinities
    become ``None``; tuples become lists; anything that is not JSON (bytes, objects) and
    nesting deeper than ``MAX_DEPTH`` become their string form.
    """
    repairs = repairs if repairs is not None else Repairs()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        repairs.numbers += 1
        return None
    if isinstance(value, str):
        return safe_text(value, repairs)
    if _depth >= MAX_DEPTH:
        repairs.other += 1
        return REPLACEMENT
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                repairs.other += 1
                key = str(key)
            out[safe_text(key, repairs)] = json_safe(item, repairs, _depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [json_safe(item, repairs, _depth + 1) for item in value]
    repairs.other += 1
    return safe_text(str(value), repairs)


class StoredJson:
    """A JSON document as the database returned it, decoded only if something looks inside.

    What a list only shows (an execution's input and output) can go from the database to
    the answer as the text the database wrote, with no decoding and encoding in between.
    ``value`` decodes it (once); a ``StoredJson`` equals another with the same text, or a
    plain value equal to its own. Only text that a database produced from a JSON value
    (PostgreSQL's JSONB) is kept this way: it is always valid, strict JSON.
    """

    __slots__ = ("_value", "text")

    _UNSET: Any = object()

    def __init__(self, text: str) -> None:
        self.text = text
        self._value: Any = StoredJson._UNSET

    @property
    def value(self) -> Any:
        """The decoded document."""
        if self._value is StoredJson._UNSET:
            self._value = json.loads(self.text)
        return self._value

    def may_contain(self, text: str) -> bool:
        """False when no string or key of the document can hold ``text`` (plain ASCII
        without quotes or backslashes): it is not in the JSON text and no escape sequence
        could spell it, so the document need not be decoded to look for it."""
        return text in self.text or "\\u" in self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredJson):
            return self.text == other.text or self.value == other.value
        return bool(self.value == other)

    __hash__ = None  # type: ignore[assignment]  # equal to unhashable values

    def __repr__(self) -> str:
        return f"StoredJson({self.text!r})"


# A listed execution's input or output larger than this (bytes of JSON) is left out of
# the list (``Omitted``); a history page of 100 then stays under 2 MB whatever the rows
# hold. The execution itself (GET by id) has it whole.
LISTED_VALUE_MAX_BYTES = 8 * 1024
# The same bound for documents pushed to the consumer (event streams, webhook bodies).
PUSHED_VALUE_MAX_BYTES = 64 * 1024


class Omitted:
    """A JSON value left out of an answer for its size (``size`` bytes of JSON)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Omitted) and other.size == self.size

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Omitted({self.size})"


def stored_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (a ``StoredJson`` by its text)."""
    if isinstance(value, StoredJson):
        return len(value.text.encode("utf-8", "surrogatepass"))
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def bounded(value: Any, max_bytes: int) -> Any:
    """``value``, or ``Omitted`` when it is more than ``max_bytes`` of JSON."""
    if value is None or isinstance(value, Omitted):
        return value
    size = stored_size(value)
    return Omitted(size) if size > max_bytes else value
