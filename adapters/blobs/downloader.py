"""The ``Downloader`` over aiohttp: GET an http(s) URL with a size cap and a timeout.

A GPU worker chooses the URLs in its output, so unless private destinations are allowed
the downloader never connects to a loopback, private, link-local or otherwise internal
address (a worker must not make the service read its own network): an address written
in the URL is checked before connecting, a name is checked where it is resolved (the
address connected to is the address checked), and redirects are followed by hand so
that every hop is checked the same way.

Failures are ``OutputDownloadFailed`` whose message names the host, never the whole URL
(provider URLs often carry credentials in their query).
"""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from adapters.webhooks.destinations import GuardedResolver, Refusal, RefusedAddress
from tarsify.domain.errors import OutputDownloadFailed
from tarsify.domain.webhook_rules import is_forbidden, literal_address
from tarsify.ports.files import Download

CHUNK = 64 * 1024
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpDownloader:
    """Downloads through one ``ClientSession`` (owned by the caller, or made on first use
    and closed by ``close``)."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_s: float,
        allow_private: bool = False,
        forbidden: Refusal = is_forbidden,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        # None: every address may be connected to (OUTPUT_DOWNLOAD_ALLOW_PRIVATE=true).
        self._forbidden = None if allow_private else forbidden
        self._session = session
        self._owns_session = session is None

    async def fetch(self, url: str) -> Download:
        """The body and Content-Type of a GET of ``url``."""
        target = self._checked(URL(url))
        where = target.host or "?"
        try:
            return await asyncio.wait_for(self._follow(target), self.timeout_s)
        except TimeoutError as exc:
            raise OutputDownloadFailed(
                f"Downloading the output file from {where} timed out"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                raise OutputDownloadFailed(
                    f"Output file URL points to an internal address ({exc.host})"
                ) from exc
            raise self._failed(where, exc) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise self._failed(where, exc) from exc

    @staticmethod
    def _failed(where: str, exc: Exception) -> OutputDownloadFailed:
        return OutputDownloadFailed(
            f"Downloading the output file from {where} failed: {type(exc).__name__}"
        )

    def _checked(self, target: URL) -> URL:
        """``target`` if it may be fetched: http(s), and no internal address written in it."""
        if target.scheme not in ("http", "https") or not target.host:
            raise OutputDownloadFailed("Output file URL is not an http(s) URL")
        literal = literal_address(target.host)
        if self._forbidden is not None and literal is not None and self._forbidden(literal):
            raise OutputDownloadFailed(
                f"Output file URL points to an internal address ({target.host})"
            )
        return target

    async def _follow(self, target: URL) -> Download:
        """GET ``target``, following at most ``MAX_REDIRECTS`` redirects, each checked."""
        for _ in range(MAX_REDIRECTS + 1):
            found = await self._get(target, target.host or "?")
            if isinstance(found, Download):
                return found
            target = self._checked(target.join(URL(found)))
        raise OutputDownloadFailed(
            f"Downloading the output file from {target.host} took over {MAX_REDIRECTS} redirects"
        )

    async def _get(self, target: URL, where: str) -> Download | str:
        """The download, or where a redirect points."""
        session = self._open_session()
        async with session.get(target, allow_redirects=False) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                return location
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
            forbidden = self._forbidden
            resolver = None if forbidden is None else GuardedResolver(forbidden)
            connector = aiohttp.TCPConnector(resolver=resolver)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, trust_env=False
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this downloader made it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
