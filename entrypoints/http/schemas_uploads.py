"""Consumers' uploaded files: the bodies that upload one, and how one is shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from tarsify.domain.media import CONTENT_TYPE_RE
from tarsify.domain.uploads import NAME_MAX_CHARS, Upload, reference_of
from tarsify.services.uploads import DirectUpload, UploadedFile

from .schemas import RequestModel, Timestamp, View


class FileUploadForm(RequestModel):
    """``multipart/form-data`` with one part named ``file``: its filename and
    ``Content-Type`` are the file's name and type (the type is checked against the
    bytes' signature for common media types)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class DirectUploadCreate(RequestModel):
    """Start a direct upload (S3 store): the file's name, type and size in bytes."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_CHARS)
    ]
    content_type: Annotated[
        str,
        StringConstraints(strip_whitespace=True, to_lower=True, pattern=CONTENT_TYPE_RE.pattern),
    ]
    size: int = Field(ge=1)


class FileView(View):
    """An uploaded file. ``url`` reads its bytes until the link expires (a fresh one with
    every answer); ``reference`` names it in a run's inputs, as ``url`` does."""

    id: uuid.UUID
    name: str
    content_type: str
    size: int
    sha256: str | None
    url: str
    reference: str
    ready: bool
    created_at: Timestamp
    expires_at: Timestamp


class DeletedFileView(View):
    """A file just deleted: its links no longer work."""

    id: uuid.UUID
    name: str
    content_type: str
    size: int
    deleted_at: Timestamp


class DirectUploadView(View):
    """A direct upload started: ``PUT`` the bytes to ``uploadUrl`` (with the same
    ``Content-Type``) before ``uploadExpiresIn`` seconds pass; ``file`` is usable in
    runs once they are there."""

    file: FileView
    upload_url: str
    upload_method: str
    upload_expires_in: int


def file_view(uploaded: UploadedFile) -> FileView:
    """An upload as its consumer sees it."""
    upload = uploaded.upload
    fields: dict[str, Any] = {
        "id": upload.id,
        "name": upload.name,
        "content_type": upload.content_type,
        "size": upload.size_bytes,
        "sha256": upload.sha256,
        "url": uploaded.url,
        "reference": reference_of(upload.id),
        "ready": upload.ready,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
    }
    return FileView(**fields)


def deleted_file_view(upload: Upload, deleted_at: datetime) -> DeletedFileView:
    """What a deletion answers."""
    return DeletedFileView(
        id=upload.id,
        name=upload.name,
        content_type=upload.content_type,
        size=upload.size_bytes,
        deleted_at=deleted_at,
    )


def direct_upload_view(direct: DirectUpload) -> DirectUploadView:
    """A direct upload just started."""
    return DirectUploadView(
        file=file_view(direct.file),
        upload_url=direct.upload_url,
        upload_method="PUT",
        upload_expires_in=direct.upload_expires_in_s,
    )
