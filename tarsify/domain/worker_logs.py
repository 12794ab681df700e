"""A running job's log lines, as a provider reports them (fal's ``?logs=1``), kept bounded.

A provider reports every line so far with each status; the execution keeps the newest
``MAX_LOG_LINES`` of them, at most ``MAX_LOGS_CHARS`` characters of messages in all, each
line ``{"message", "level", "source", "timestamp"}`` (message at most
``MAX_MESSAGE_CHARS``; the other three short text or null). Whatever a worker printed,
what is kept is bounded and storable: anything that is not a line is dropped, text is
made valid (no NUL, no lone surrogate) and cut to size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tarsify.domain.jsonsafe import safe_text

MAX_LOG_LINES = 100
MAX_MESSAGE_CHARS = 1000
MAX_LOGS_CHARS = 16_000
MAX_FIELD_CHARS = 64

LogLine = dict[str, str | None]


def _short(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float):
        return None
    text = safe_text(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def log_line(raw: Any) -> LogLine | None:
    """One line as kept, or None for what is not a line (a plain string is a message)."""
    if isinstance(raw, str):
        raw = {"message": raw}
    if not isinstance(raw, dict):
        return None
    message = _short(raw.get("message"), MAX_MESSAGE_CHARS)
    if message is None:
        return None
    return {
        "message": message,
        "level": _short(raw.get("level"), MAX_FIELD_CHARS),
        "source": _short(raw.get("source"), MAX_FIELD_CHARS),
        "timestamp": _short(raw.get("timestamp"), MAX_FIELD_CHARS),
    }


def kept_logs(raw: Any) -> list[LogLine] | None:
    """The newest lines of a provider's report that are kept; None when the report holds
    no list of lines (the provider said nothing about logs)."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return None
    lines = [line for line in map(log_line, raw[-MAX_LOG_LINES:]) if line is not None]
    kept: list[LogLine] = []
    size = 0
    for line in reversed(lines):
        size += len(line["message"] or "")
        if size > MAX_LOGS_CHARS:
            break
        kept.append(line)
    kept.reverse()
    return kept


def new_lines(before: Sequence[LogLine] | None, after: Sequence[LogLine] | None) -> list[LogLine]:
    """The lines of ``after`` that came after those of ``before``: both are the newest
    lines of one growing log, so ``after`` starts with a tail of ``before`` (maybe an
    empty one) and goes on with the new lines."""
    old, new = list(before or ()), list(after or ())
    for overlap in range(min(len(old), len(new)), 0, -1):
        if new[:overlap] == old[len(old) - overlap :]:
            return new[overlap:]
    return new


def queue_place(value: Any) -> int | None:
    """A reported place in the queue (a count from 0), or None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None
