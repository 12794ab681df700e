"""Media types of output files: sniffing magic bytes, cleaning declared types, extensions.

Pure functions over bytes and strings; the blob stores and the output offloading use them
so that a file's stored type and its key's extension always agree.
"""

from __future__ import annotations

import re

OCTET_STREAM = "application/octet-stream"
# Declared types that say nothing about the bytes: the sniffed type wins over them.
GENERIC_TYPES = frozenset({OCTET_STREAM, "binary/octet-stream", "application/binary"})
CONTENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "video/mp4": "mp4",
    "application/pdf": "pdf",
    "application/json": "json",
    "text/plain": "txt",
}
# Equivalent spellings seen in the wild, mapped to the one used above.
ALIASES = {
    "image/jpg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
}


def sniff(data: bytes) -> str | None:
    """The media type the leading bytes of ``data`` announce, or None when unknown."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return "audio/mpeg"
    return None


def _mpeg_frame(head: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, then a layer that is not "reserved".
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0


def clean_type(declared: str | None) -> str | None:
    """``declared`` as a bare, lower-case ``type/subtype`` (parameters dropped), or None
    when it is missing or malformed."""
    if not declared:
        return None
    bare = declared.split(";", 1)[0].strip().lower()
    bare = ALIASES.get(bare, bare)
    return bare if CONTENT_TYPE_RE.match(bare) else None


def choose_type(data: bytes, declared: str | None = None) -> str:
    """The type to store ``data`` under: what its bytes announce, else the declared type,
    else ``application/octet-stream``."""
    sniffed = sniff(data)
    if sniffed is not None:
        return sniffed
    cleaned = clean_type(declared)
    return cleaned if cleaned is not None and cleaned not in GENERIC_TYPES else OCTET_STREAM


def extension_for(content_type: str) -> str:
    """The file name extension of a media type (``bin`` for unknown ones)."""
    return EXTENSIONS.get(content_type, "bin")


def is_inline_media(content_type: str) -> bool:
    """True for types a browser may show in place (images, audio, video, PDF); anything
    else is served as a download."""
    major = content_type.split("/", 1)[0]
    return major in ("image", "audio", "video") or content_type == "application/pdf"
