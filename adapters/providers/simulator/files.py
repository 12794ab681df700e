"""Expiring file URLs of the fake RunPod API, as hub workers return presigned S3 URLs.

A simulated output names a file ``simfile:png/7``; answers of the fake API turn it into
``http://<the fake>/_files/png/7?expires=<unix>&X-Amz-Signature=<hmac>``, which serves
the file until it expires (then 403, like S3).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from aiohttp import web

from adapters.providers.simulator.media import FILE_MARK, file_bytes

URL_TTL_S = 600
_KEY = b"tarsify-simulator-files"


def _signature(path: str, expires: int) -> str:
    return hmac.new(_KEY, f"{path}:{expires}".encode(), hashlib.sha256).hexdigest()


def with_file_urls(value: Any, base: str) -> Any:
    """``value`` with every ``simfile:`` marker turned into an expiring URL under ``base``."""
    if isinstance(value, str) and value.startswith(FILE_MARK):
        path = f"/_files/{value[len(FILE_MARK) :]}"
        expires = int(time.time()) + URL_TTL_S
        return f"{base}{path}?expires={expires}&X-Amz-Signature={_signature(path, expires)}"
    if isinstance(value, dict):
        return {k: with_file_urls(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [with_file_urls(v, base) for v in value]
    return value


async def serve_file(request: web.Request) -> web.Response:
    """``GET /_files/{kind}/{seed}``: the file while its link is valid."""
    try:
        expires = int(request.query.get("expires", ""))
        seed = int(request.match_info["seed"])
    except ValueError:
        return web.Response(status=400, text="bad link")
    path = f"/_files/{request.match_info['kind']}/{seed}"
    given = request.query.get("X-Amz-Signature", "")
    if expires < time.time() or not hmac.compare_digest(given, _signature(path, expires)):
        return web.Response(status=403, text="Request has expired")
    found = file_bytes(request.match_info["kind"], seed)
    if found is None:
        return web.Response(status=404, text="NoSuchKey")
    data, content_type = found
    return web.Response(body=data, content_type=content_type)
