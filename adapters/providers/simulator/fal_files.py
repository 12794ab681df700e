"""Outputs of the fake fal queue in fal's shape, with media on CDN-style URLs that expire.

fal returns media as objects with a ``url`` on its CDN: image models
``{"images": [{"url", "width", "height", "content_type"}], "seed", "timings",
"has_nsfw_concepts"}``, audio models ``{"audio": {"url", "content_type", ...}}``. CDN
objects expire with the CDN's lifecycle settings. Here a file gets an unguessable path
``/files/{token}/{name}`` on the fake, served until ``ttl_s`` has passed on the fake's
clock, then 404 like a deleted object.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.providers.simulator.media import FILE_MARK, file_bytes, simulated_output
from tarsify.domain.models import OutputType

DEFAULT_FILE_TTL_S = 3600.0
IMAGE_SIZE = 64  # the simulator's PNGs are 64 x 64
_NAMES = {"png": ("image.png", "image/png"), "wav": ("audio.wav", "audio/wav")}


class CdnFiles:
    """Files the fake has handed out, by token, each with the clock time it expires."""

    def __init__(self, now: Callable[[], float], ttl_s: float = DEFAULT_FILE_TTL_S) -> None:
        self.now = now
        self.ttl_s = ttl_s
        self._files: dict[str, tuple[str, int, float]] = {}
        self._last_sweep = now()

    def url(self, base: str, marker: str) -> str:
        """A new URL under ``base`` for the simulator file ``simfile:{kind}/{seed}``."""
        kind, _, seed = marker[len(FILE_MARK) :].partition("/")
        self._sweep()
        token = secrets.token_hex(12)
        self._files[token] = (kind, int(seed), self.now() + self.ttl_s)
        return f"{base}/files/{token}/{_NAMES.get(kind, ('file.bin', ''))[0]}"

    def find(self, token: str) -> tuple[bytes, str] | None:
        """The bytes and media type of a file that has not expired, else None."""
        found = self._files.get(token)
        if found is None or self.now() >= found[2]:
            return None
        return file_bytes(found[0], found[1])

    def _sweep(self) -> None:
        now = self.now()
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        for token in [t for t, (_, _, expires) in self._files.items() if now >= expires]:
            del self._files[token]


CDN_KEY = web.AppKey("cdn_files", CdnFiles)


async def serve_cdn_file(request: web.Request) -> web.Response:
    """``GET /files/{token}/{name}``: the file until it expires, then 404."""
    found = request.app[CDN_KEY].find(request.match_info["token"])
    if found is None:
        return web.Response(status=404, text="Not Found")
    data, content_type = found
    return web.Response(body=data, content_type=content_type)


def fal_output(
    output_type: OutputType,
    input: dict[str, Any],
    inference_s: float | None,
    files: CdnFiles,
    base: str,
) -> dict[str, Any]:
    """The simulated output of a finished request, shaped as fal's models answer."""
    # The simulator's url style names each file once (``simfile:png/7``); the CDN serves it.
    raw = simulated_output(output_type, {**input, "simulate_output": "url"}, urls=True)
    if output_type == OutputType.IMAGE:
        images = [
            {
                "url": files.url(base, marker),
                "width": IMAGE_SIZE,
                "height": IMAGE_SIZE,
                "content_type": "image/png",
            }
            for marker in raw["images"]
        ]
        return {
            "images": images,
            "timings": {"inference": inference_s or 0.0},
            "seed": raw["seed"],
            "has_nsfw_concepts": [False] * len(images),
            "simulated": True,
        }
    if output_type == OutputType.AUDIO:
        marker = raw["audio_url"]
        kind, _, seed = marker[len(FILE_MARK) :].partition("/")
        data = file_bytes(kind, int(seed))
        audio = {
            "url": files.url(base, marker),
            "content_type": "audio/wav",
            "file_name": "audio.wav",
            "file_size": len(data[0]) if data else 0,
        }
        return {"audio": audio, "simulated": True}
    return raw
