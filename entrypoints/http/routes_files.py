"""``GET /files/{key}``: output files of the filesystem and memory blob stores, by signed
link (``FileUrlSigner``); with S3 the links point at the bucket and this route is 404.

Outside the JSON route table: the answer is the file itself. The key is checked before
the signature (a key no file can have is 404 ERR_3001), then the signature and expiry
(403 ERR_1006), then the store (404 ERR_3001 for an unknown file). Files of the
filesystem store are sent from disk as they are read (with ranges and conditional
requests), so a large file costs no memory; the memory store's are bytes already.
A ``Range`` header that does not parse as one byte range is ignored (200, the whole
file, RFC 9110 14.2); a well-formed range starting past the end is 416 ERR_4160 in the
error envelope with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter

from tarsify.domain.errors import FileLinkInvalid, NotFound
from tarsify.domain.files import check_key
from tarsify.domain.media import is_inline_media

from .routing import services

PATH = "/files/{key:.+}"
# A file is whatever a model produced: never let a browser run it as part of this origin.
SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-transform",
}


class _FileAnswer(web.FileResponse):
    """A file from disk that ignores a ``Range`` header it cannot parse, as RFC 9110
    (14.2) asks, instead of aiohttp's bare 416: the whole file, 200."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if _bad_range(request):
            headers = request.headers.copy()
            del headers[hdrs.RANGE]
            request = request.clone(headers=headers)
        return await super().prepare(request)


def _bad_range(request: web.BaseRequest) -> bool:
    """True when the request has a Range header that is not one ``bytes=first-last``
    range (malformed, several ranges, last before first, another unit)."""
    if hdrs.RANGE not in request.headers:
        return False
    try:
        request.http_range  # noqa: B018 - parsing is the check
    except ValueError:
        return True
    return False


async def _check_satisfiable(request: web.Request, path: os.PathLike[str] | str) -> None:
    """A well-formed range wholly past the end of the file (and not voided by If-Range)
    is 416 ERR_4160 in the error envelope, with ``Content-Range: bytes */<size>``."""
    if hdrs.RANGE not in request.headers or _bad_range(request):
        return
    stat = await asyncio.to_thread(os.stat, path)
    if_range = request.if_range
    if if_range is not None and stat.st_mtime > if_range.timestamp():
        return  # the file changed: the range is ignored, the whole file sent
    start = request.http_range.start
    if start is not None and start >= stat.st_size:
        raise web.HTTPRequestRangeNotSatisfiable(
            headers={hdrs.CONTENT_RANGE: f"bytes */{stat.st_size}"}
        )


async def read_file(request: web.Request) -> web.StreamResponse:
    """The exact bytes of a file, with its stored Content-Type and Content-Length."""
    svc = services(request)
    key = check_key(request.match_info["key"])
    store, signer = svc.blobs, svc.file_urls
    if store is None or signer is None:
        raise NotFound("File not found")
    if not signer.verify(key, request.query.get("expires", ""), request.query.get("sig", "")):
        raise FileLinkInvalid()
    info = await store.head(key)
    headers = {**SAFETY_HEADERS, "Content-Type": info.content_type}
    if not is_inline_media(info.content_type):
        headers["Content-Disposition"] = "attachment"
    path = await store.local_path(key)
    if path is not None:
        await _check_satisfiable(request, path)
        return _FileAnswer(path, headers=headers)
    return web.Response(body=await store.read(key), headers=headers)


def install(app: web.Application) -> None:
    """Add the route (it serves the blob store of the app's services)."""
    app.router.add_get(PATH, read_file)
