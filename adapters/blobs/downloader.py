"""The ``Downloader`` over aiohttp: GET an http(s) URL with a size cap and a timeout.

Failures are ``OutputDownloadFailed`` whose message names the host, never the whole URL
(provider URLs often carry credentials in their query).
"""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from tarsify.domain.errors import OutputDownloadFailed
from tarsify.ports import Download

CHUNK = 64 * 1024
MAX_REDIRECTS = 3


class HttpDownloader:
    """Downloads through one ``ClientSession`` (owned by the caller, or made on first use
    and closed by ``close``)."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_s: float,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._session = session
        self._owns_session = session is None

    async def fetch(self, url: str) -> Download:
        """The body and Content-Type of a GET of ``url``."""
        target = URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise OutputDownloadFailed("Output file URL is not an http(s) URL")
        where = target.host
        try:
            return await asyncio.wait_for(self._get(target, where), self.timeout_s)
        except TimeoutError as exc:
            raise OutputDownloadFailed(
                f"Downloading the output file from {where} timed out"
            ) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise OutputDownloadFailed(
                f"Downloading the output file from {where} failed: {type(exc).__name__}"
            ) from exc

    async def _get(self, target: URL, where: str) -> Download:
        session = self._open_session()
        async with session.get(target, max_redirects=MAX_REDIRECTS) as response:
            if response.status != 200:
                raise OutputDownloadFailed(
                    f"Downloading the output file from {where} answered HTTP {response.status}"
                )
            if (response.content_length or 0) > self.max_bytes:
                raise self._too_large(where)
            body = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise self._too_large(where)
            return Download(bytes(body), response.headers.get("Content-Type"))

    def _too_large(self, where: str) -> OutputDownloadFailed:
        return OutputDownloadFailed(
            f"The output file from {where} is larger than {self.max_bytes} bytes"
        )

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(auto_decompress=True)
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this downloader made it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
