"""Sends webhook attempts over aiohttp: POST, 10 s, no redirects, a bounded read.

A receiver's failure is never an exception here: a refused destination, a timeout, a
refused connection or a non-2xx answer are each a ``SendResult`` with an error line,
which is what the delivery log shows.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from adapters.webhooks.destinations import DestinationGuard, GuardedResolver, RefusedAddress
from tarsify.domain.errors import InvalidBody
from tarsify.ports.webhooks import SendResult

MAX_RESPONSE_BYTES = 64 * 1024


class HttpWebhookSender:
    """The ``WebhookSender`` port over one ``ClientSession`` (made on first use)."""

    def __init__(
        self,
        guard: DestinationGuard,
        *,
        timeout_s: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._guard = guard
        self._timeout_s = timeout_s
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST one attempt; see ``WebhookSender.send``."""
        started = time.monotonic()
        status: int | None = None
        try:
            self._guard.check_literal(url)
            status = await asyncio.wait_for(self._post(url, headers, body), self._timeout_s)
            error = None if 200 <= status < 300 else _status_error(status)
        except InvalidBody as exc:
            error = exc.message
        except TimeoutError:
            error = f"no answer within {self._timeout_s:g} s"
        except aiohttp.ClientConnectorError as exc:
            refusal = exc.os_error if isinstance(exc.os_error, RefusedAddress) else None
            error = str(refusal) if refusal is not None else f"{type(exc).__name__}: {exc}"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return SendResult(status, error, int((time.monotonic() - started) * 1000))

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        session = self._open_session()
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as answer:
            # Read a little of the answer (nothing needs it), never an unbounded amount.
            left = self._max_response_bytes
            while left > 0 and await answer.content.read(min(left, 16 * 1024)):
                left -= 16 * 1024
            return answer.status

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self._guard.allow_private else GuardedResolver()
            connector = aiohttp.TCPConnector(resolver=resolver, limit=100)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=False
            )
        return self._session

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"
