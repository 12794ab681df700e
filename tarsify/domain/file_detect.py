"""Finding the files in a provider's output.

Three shapes are files (anywhere in nested objects and lists — worker-sdxl answers
``{"images": ["data:image/png;base64,..."]}``, TTS workers ``{"audio_base64": "..."}``
or ``{"audio_url": "https://..."}``):

- a base64 data URI (``data:image/png;base64,...``), whatever the model's output type;
- for models whose output type is IMAGE, AUDIO or FILE: a bare base64 string of at least
  ``MIN_BASE64_CHARS`` characters whose decoded bytes start with a known signature
  (PNG, JPEG, WEBP, GIF, WAV, MP3, FLAC, OGG, MP4, PDF);
- for those output types too: an ``http(s)`` URL that is the whole output, an item of a
  list, or the value of a member whose name ends in ``url``/``uri`` (``audio_url``) or
  starts with ``image``, ``audio``, ``video``, ``file``, ``output``, ``media`` or
  ``result``. It is downloaded before the provider's link expires.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from tarsify.domain.files import JsonPath
from tarsify.domain.media import choose_type, sniff
from tarsify.domain.models import OutputType

FILE_OUTPUT_TYPES = frozenset({OutputType.IMAGE, OutputType.AUDIO, OutputType.FILE})
MIN_BASE64_CHARS = 64
MAX_URL_CHARS = 4096
DATA_URI_RE = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*);base64,", re.I)
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.I)
FILE_MEMBER_RE = re.compile(r"(url|uri)s?$|^(image|audio|video|file|output|media|result)", re.I)
WHITESPACE_RE = re.compile(r"\s+")


@dataclass(slots=True, frozen=True)
class FileSource:
    """Where a file's bytes come from: ``data`` (decoded inline data, with the type to
    store it under) or ``url`` (to download)."""

    data: bytes | None = None
    content_type: str | None = None
    url: str | None = None


def find_files(
    output: Any, output_type: OutputType, output_format: str = ""
) -> list[tuple[JsonPath, FileSource]]:
    """Every file in ``output`` with its path (member names and list indexes), in
    document order. ``output_format`` (the base model's, e.g. ``png``) is informative:
    the bytes' own signature decides the stored type."""
    del output_format  # the signature of the bytes is more reliable than the declared format
    found: list[tuple[JsonPath, FileSource]] = []
    files_allowed = output_type in FILE_OUTPUT_TYPES

    def visit(value: Any, path: JsonPath, member: str | None) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                visit(item, (*path, name), str(name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*path, index), None)
        elif isinstance(value, str):
            source = _source(value, files_allowed, member, is_root=not path)
            if source is not None:
                found.append((path, source))

    visit(output, (), None)
    return found


def _source(
    text: str, files_allowed: bool, member: str | None, *, is_root: bool
) -> FileSource | None:
    if text[:5].lower() == "data:":
        return decode_data_uri(text)
    if not files_allowed:
        return None
    if text[:4].lower() == "http":
        by_place = is_root or member is None or bool(FILE_MEMBER_RE.search(member))
        if by_place and len(text) <= MAX_URL_CHARS and URL_RE.match(text):
            return FileSource(url=text)
        return None
    return decode_bare_base64(text)


def decode_data_uri(text: str) -> FileSource | None:
    """The file of a base64 data URI, or None when ``text`` is not one or is corrupt."""
    match = DATA_URI_RE.match(text)
    if match is None:
        return None
    data = _b64decode(text[match.end() :])
    if data is None:
        return None
    return FileSource(data=data, content_type=choose_type(data, match.group(1)))


def decode_bare_base64(text: str) -> FileSource | None:
    """The file of a bare base64 string whose bytes have a known signature, else None."""
    if len(text) < MIN_BASE64_CHARS:
        return None
    # Decode a small head first: most long strings are not files, and that is cheap.
    head = _b64decode(WHITESPACE_RE.sub("", text[:96])[:64])
    if head is None or sniff(head) is None:
        return None
    data = _b64decode(text)
    if data is None:
        return None
    return FileSource(data=data, content_type=choose_type(data))


def _b64decode(text: str) -> bytes | None:
    compact = WHITESPACE_RE.sub("", text) if any(c.isspace() for c in text[:200]) else text
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:  # the URL-safe alphabet, which some workers use
            return base64.b64decode(compact, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            return None
