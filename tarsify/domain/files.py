"""Output files: blob keys, file records, and the references that replace file data in
an execution's stored output.

A stored output never holds file bytes or a provider's short-lived URL. Each file is
replaced by a *reference*, the JSON object ``{"$file": "<key>"}`` (exactly that one
member), and ``render_output`` turns references into signed URLs when the execution is
shown. Keys are ``executions/{execution_id}/{n}.{ext}``, and for the files of a streamed
chunk ``executions/{execution_id}/chunks/{seq}-{n}.{ext}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarsify.domain.errors import InvalidFileKey

FILE_MARKER = "$file"
MAX_KEY_LENGTH = 512
# Segments of letters, digits, '.', '_' and '-', none starting with a dot (so no '.',
# '..' or hidden files), joined by '/'. Anything else (unicode, spaces, '%', '\\', NUL,
# a line break) is refused; one match of the whole key.
_KEY_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")

JsonPath = tuple[str | int, ...]


@dataclass(slots=True, frozen=True)
class FileRecord:
    """A file stored for an execution: key, media type, size in bytes, SHA-256 (hex)."""

    key: str
    content_type: str
    size: int
    sha256: str


@dataclass(slots=True)
class ExecutionFile:
    """A stored file of an execution, as the ``execution_files`` table keeps it (for
    listing an execution's files and for retention sweeps)."""

    id: uuid.UUID
    execution_id: uuid.UUID
    key: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, execution_id: uuid.UUID, record: FileRecord, created_at: datetime) -> ExecutionFile:
        """The row for ``record``, stored for ``execution_id`` at ``created_at``."""
        return cls(
            uuid.uuid4(),
            execution_id,
            record.key,
            record.content_type,
            record.size,
            record.sha256,
            created_at,
        )


def check_key(key: str) -> str:
    """Return ``key`` if a file may be stored under it, else raise ``InvalidFileKey``.

    A key is relative, at most 512 characters, made of ``/``-separated segments that
    match ``[A-Za-z0-9_-][A-Za-z0-9._-]*``: no absolute path, no ``..``, no empty
    segment, no NUL, no backslash, no unicode.
    """
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidFileKey()
    if _KEY_RE.fullmatch(key) is None:
        raise InvalidFileKey()
    return key


def execution_prefix(execution_id: uuid.UUID) -> str:
    """The key prefix of an execution's files."""
    return f"executions/{execution_id}/"


def file_key(execution_id: uuid.UUID, index: int, extension: str) -> str:
    """The key of an execution's ``index``-th file (deterministic, so a retried offload
    overwrites instead of duplicating)."""
    return check_key(f"{execution_prefix(execution_id)}{index}.{extension}")


def chunk_file_key(execution_id: uuid.UUID, seq: int, index: int, extension: str) -> str:
    """The key of the ``index``-th file of the execution's chunk ``seq`` (deterministic,
    like ``file_key``)."""
    return check_key(f"{execution_prefix(execution_id)}chunks/{seq}-{index}.{extension}")


def reference(key: str) -> dict[str, str]:
    """The reference that stands for the file ``key`` in a stored output."""
    return {FILE_MARKER: key}


def reference_key(value: Any) -> str | None:
    """The key of ``value`` if it is a reference, else None."""
    if isinstance(value, dict) and len(value) == 1:
        key = value.get(FILE_MARKER)
        if isinstance(key, str):
            return key
    return None


def references(output: Any) -> list[str]:
    """The keys of every reference in ``output``, in document order."""
    found: list[str] = []

    def visit(value: Any) -> None:
        key = reference_key(value)
        if key is not None:
            found.append(key)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(output)
    return found


def render_output(output: Any, url_for: Callable[[str], str | None]) -> Any:
    """A copy of ``output`` with each reference replaced by ``url_for(key)``; a reference
    for which ``url_for`` returns None is left as it is."""
    key = reference_key(output)
    if key is not None:
        url = url_for(key)
        return output if url is None else url
    if isinstance(output, dict):
        return {name: render_output(item, url_for) for name, item in output.items()}
    if isinstance(output, list):
        return [render_output(item, url_for) for item in output]
    return output


def replace_at(output: Any, replacements: dict[JsonPath, Any]) -> Any:
    """A copy of ``output`` with the value at each path replaced (untouched branches are
    shared, not copied)."""
    if () in replacements:
        return replacements[()]
    if not replacements:
        return output
    if isinstance(output, dict):
        items: Any = output.items()
        rebuilt: Any = {}
    elif isinstance(output, list):
        items = enumerate(output)
        rebuilt = []
    else:
        return output
    for name, item in items:
        below = {path[1:]: value for path, value in replacements.items() if path[0] == name}
        new = replace_at(item, below) if below else item
        if isinstance(rebuilt, dict):
            rebuilt[name] = new
        else:
            rebuilt.append(new)
    return rebuilt


def without_files(output: Any, keys: set[str]) -> Any:
    """``output`` with every reference to one of ``keys`` replaced by ``None``."""
    if reference_key(output) in keys:
        return None
    if isinstance(output, dict):
        return {name: without_files(value, keys) for name, value in output.items()}
    if isinstance(output, list):
        return [without_files(value, keys) for value in output]
    return output
