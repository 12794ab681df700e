"""``GET /files/{key}``: output files of the filesystem and memory blob stores, by signed
link (``FileUrlSigner``); with S3 the links point at the bucket and this route is 404.

Outside the JSON route table: the answer is the file itself. The key is checked before
the signature (a key no file can have is 404 ERR_3001), then the signature and expiry
(403 ERR_1006), then the store (404 ERR_3001 for an unknown file). Files of the
filesystem store are sent from disk as they are read (with ranges and conditional
requests), so a large file costs no memory; the memory store's are bytes already.
"""

from __future__ import annotations

from aiohttp import web

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
        return web.FileResponse(path, headers=headers)
    return web.Response(body=await store.read(key), headers=headers)


def install(app: web.Application) -> None:
    """Add the route (it serves the blob store of the app's services)."""
    app.router.add_get(PATH, read_file)
