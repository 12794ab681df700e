"""Consumers' uploaded files (run inputs): upload (multipart, streamed into the blob
store), list, delete, and start a direct upload to an S3 store.

An upload's bytes never sit whole in memory: the ``file`` part is read in chunks and
written to the store as they arrive, up to ``MAX_UPLOAD_BYTES`` (the request's JSON body
limit does not apply to it). Over the limit, empty, or cut short: nothing is kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, hdrs, web

from tarsify.domain.errors import InvalidBody, NotFound
from tarsify.services.uploads import UploadService

from .envelope import ok, ok_page
from .middleware import client_gone
from .params import LIST_PARAMS, body, page_request, path_id
from .routing import Auth, Caller, Route, services
from .schemas_uploads import (
    DeletedFileView,
    DirectUploadCreate,
    DirectUploadView,
    FileUploadForm,
    FileView,
    deleted_file_view,
    direct_upload_view,
    file_view,
)

CHUNK_BYTES = 256 * 1024
PART = "file"


def _uploads(request: web.Request) -> UploadService:
    found = services(request).uploads
    if found is None:
        raise NotFound("File uploads are not available")
    return found


def _invalid(message: str) -> InvalidBody:
    return InvalidBody(message, details=[{"field": PART, "message": message}])


async def _file_part(request: web.Request) -> BodyPartReader:
    """The ``file`` part of a multipart/form-data body (other parts before it are
    skipped)."""
    if request.content_type != "multipart/form-data":
        raise InvalidBody(
            "Send the file as multipart/form-data with one part named 'file'",
            details=[{"field": "Content-Type", "message": "must be multipart/form-data"}],
        )
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                raise _invalid("no part named 'file'")
            if isinstance(part, BodyPartReader) and part.name == PART:
                return part
            await part.release()
    except (ValueError, AssertionError) as exc:  # aiohttp's refusals of a malformed body
        raise _invalid("malformed multipart body") from exc


async def _chunks(request: web.Request, part: BodyPartReader) -> AsyncIterator[bytes]:
    """The part's bytes as they arrive; a body cut short is ``InvalidBody``, unless the
    client left: then ``ConnectionResetError``, which the error middleware answers as a
    client disconnect (one info line, 499) since nobody is there to read an answer."""
    try:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            yield chunk
        if not part.at_eof():  # the body ended before the part's closing boundary
            raise _invalid("the upload was cut short")
    except (ValueError, AssertionError, ConnectionError, InvalidBody) as exc:
        if client_gone(request):
            raise ConnectionResetError("the client left during the upload") from exc
        if isinstance(exc, InvalidBody):
            raise
        raise _invalid("the upload was cut short") from exc


async def upload_file(request: web.Request, caller: Caller) -> web.Response:
    """Store the ``file`` part; 201 with the file and a signed link to its bytes."""
    owner = caller.account_id
    uploads = _uploads(request)
    part = await _file_part(request)
    declared = part.headers.get(hdrs.CONTENT_TYPE)
    created = await uploads.create(owner, part.filename, declared, _chunks(request, part))
    return ok(file_view(created), status=201)


async def start_direct_upload(request: web.Request, caller: Caller) -> web.Response:
    """Record a file the client will PUT to the store itself; 201 with the URL to PUT to."""
    owner = caller.account_id
    data = await body(request, DirectUploadCreate)
    started = await _uploads(request).start_direct(owner, data.name, data.content_type, data.size)
    return ok(direct_upload_view(started), status=201)


async def list_files(request: web.Request, caller: Caller) -> web.Response:
    """The caller's uploaded files, newest first."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await _uploads(request).list(owner, page_req)
    return ok_page(page, [file_view(f) for f in page.items], page_req.limit)


async def delete_file(request: web.Request, caller: Caller) -> web.Response:
    """Delete one of the caller's files: its links stop working at once."""
    owner = caller.account_id
    uploads = _uploads(request)
    deleted = await uploads.delete(owner, path_id(request))
    return ok(deleted_file_view(deleted, uploads.now()))


_FILES = "/api/consumer/files"

ROUTES = [
    Route(
        "POST",
        _FILES,
        upload_file,
        "Upload a file for run inputs",
        Auth.CONSUMER,
        FileView,
        FileUploadForm,
        status=201,
        tag="consumer",
        request_media_type="multipart/form-data",
    ),
    Route(
        "GET",
        _FILES,
        list_files,
        "List own uploaded files",
        Auth.CONSUMER,
        FileView,
        many=True,
        params=LIST_PARAMS,
        tag="consumer",
    ),
    Route(
        "POST",
        _FILES + "/uploads",
        start_direct_upload,
        "Start a direct upload (S3 store)",
        Auth.CONSUMER,
        DirectUploadView,
        DirectUploadCreate,
        status=201,
        tag="consumer",
    ),
    Route(
        "DELETE",
        _FILES + "/{id}",
        delete_file,
        "Delete an own uploaded file",
        Auth.CONSUMER,
        DeletedFileView,
        tag="consumer",
        errors=("ERR_3001",),
    ),
]
