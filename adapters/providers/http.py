"""What the GPU providers' HTTP clients share: one JSON exchange, its failures and retries.

A provider's client subclasses ``RetryingJsonClient`` and keeps its own parts: URLs, the
auth header, how an answer maps to a result or a failure (``interpret``) and the error it
raises (``failure``). The shared part maps transport failures to a ``ProviderOutcome``:
a connection that could not be opened sent nothing (NOT_SENT, always retryable); a
timeout or a dropped connection may hide a request the provider received (UNKNOWN,
retried only for idempotent calls). ``status_failure`` classifies an error status the same
way for every provider: 429 and 5xx were not accepted (NOT_SENT, retryable), other 4xx
are refusals (REFUSED).

Retry rules (``next_wait``): 5xx answers and network failures each have a retry budget;
a 429 is waited out in the call only when its Retry-After (or the backoff) is short
(``max_inline_wait_s``), otherwise the call fails at once with ``retry_after_s``. Once an
attempt may have reached the provider, a later failure stays UNKNOWN. The API key is
redacted from every failure message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any, ClassVar

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from tarsify.domain.errors import ProviderOutcome

NOT_SENT, REFUSED, UNKNOWN = (
    ProviderOutcome.NOT_SENT,
    ProviderOutcome.REFUSED,
    ProviderOutcome.UNKNOWN,
)
MAX_MESSAGE = 300


@dataclasses.dataclass(slots=True, frozen=True)
class Attempt:
    """The outcome of one HTTP attempt that did not succeed."""

    http_status: int | None
    message: str
    outcome: ProviderOutcome
    retryable: bool
    wait_s: float | None = None  # set for 429: how long to wait before the next try
    error_type: str | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class Answer:
    """An HTTP answer as read: its status, headers and raw body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, or None when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def encode_body(body: dict[str, Any] | None) -> bytes | None:
    """The JSON bytes of a request body; raises TypeError or ValueError if not JSON-able."""
    return None if body is None else json.dumps(body).encode()


def not_an_object(status: int, retryable: bool) -> Attempt:
    """A 2xx answer whose body is not a JSON object: what happened is unknown."""
    return Attempt(status, "answer is not a JSON object", UNKNOWN, retryable)


def status_failure(status: int, text: str, retry_after: str | None) -> Attempt:
    """An error status classified the same way for every provider."""
    if status == 429:
        message = f"HTTP 429 rate limited {text}".strip()
        return Attempt(status, message, NOT_SENT, True, seconds(retry_after))
    if status >= 500:
        return Attempt(status, f"HTTP {status} {text}".strip(), NOT_SENT, True)
    if 400 <= status < 500:
        return Attempt(status, f"HTTP {status} {text}".strip(), REFUSED, False)
    return Attempt(status, f"unexpected HTTP {status}", UNKNOWN, False)


def seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds; HTTP dates are rare here and fall back to backoff."""
    if retry_after is None:
        return None
    try:
        value = float(retry_after)
    except ValueError:
        return None
    return value if value >= 0 else None


def short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:MAX_MESSAGE]


class RetryingJsonClient:
    """A JSON-over-HTTP client with one long-lived ClientSession and the retry rules above.

    Subclasses set ``log_prefix``, ``log`` and ``default_base_url`` and implement
    ``auth_headers``, ``interpret`` and ``failure``; they may add log fields from a
    successful answer with ``success_fields``.
    """

    log_prefix: ClassVar[str]
    log: ClassVar[Any]  # the provider module's structlog logger, so lines keep its name
    default_base_url: ClassVar[str]

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30,
        retries_5xx: int = 2,
        retries_network: int = 2,
        retry_delay_s: float = 1.0,
        max_backoff_s: float = 30.0,
        deadline_s: float = 60,
        max_connections: int = 100,
        max_inline_wait_s: float = 2.0,
    ) -> None:
        self._api_key = api_key
        self.base_url = (self.default_base_url if base_url is None else base_url).rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s
        self._retries = {"5xx": retries_5xx, "network": retries_network}
        self._retry_delay_s = retry_delay_s
        self._max_backoff_s = max_backoff_s
        self._deadline_s = deadline_s
        self._max_connections = max_connections
        self._max_inline_wait_s = max_inline_wait_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def interpret(self, answer: Answer, method: str, idempotent: bool) -> dict[str, Any] | Attempt:
        """Turn an HTTP answer into the parsed body or a classified failure."""
        raise NotImplementedError

    def failure(
        self, method: str, fields: dict[str, Any], result: Attempt, outcome: ProviderOutcome
    ) -> Exception:
        """The error to raise when a call fails for good."""
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        """The provider's authentication header; the key is never logged."""
        raise NotImplementedError

    def success_fields(self, result: dict[str, Any], ctx: dict[str, Any]) -> None:
        """Add log fields taken from a successful answer to ``ctx``."""

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop, not the one at construction.
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError(f"the ClientSession given to {type(self).__name__} is closed")
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def _send(
        self,
        method: str,
        http_method: str,
        url: str | URL,
        data: bytes | None,
        *,
        fields: dict[str, Any],
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        idempotent: bool = False,
        wait_inline: bool = True,
        attempt_timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Send until an answer, a final failure or the deadline; ``fields`` name the call
        in logs and errors. Without ``wait_inline`` a failure is final at once (the caller
        sends again later), so a request running a submit is never held by a retry."""
        loop = asyncio.get_running_loop()
        per_attempt = attempt_timeout_s or self._timeout_s
        # An attempt that may legitimately last long (runsync) extends the deadline.
        deadline = loop.time() + max(self._deadline_s, attempt_timeout_s or 0)
        budget = dict(self._retries)
        attempt, throttled, reached = 0, 0, False
        while True:
            attempt += 1
            started = time.perf_counter()
            timeout = max(0.001, min(per_attempt, deadline - loop.time()))
            result = await self._attempt(
                http_method, url, data, params, headers, timeout, method, idempotent
            )
            if isinstance(result, Attempt) and self._api_key and self._api_key in result.message:
                # A misbehaving server or proxy could echo the key back in an error body.
                redacted = result.message.replace(self._api_key, "<redacted>")
                result = dataclasses.replace(result, message=redacted)
            ctx = {
                "method": method,
                **fields,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if isinstance(result, dict):
                self.success_fields(result, ctx)
                self.log.info(f"{self.log_prefix}.call", **ctx)
                return result
            wait = self._next_wait(result, budget, throttled) if wait_inline else None
            throttled += result.http_status == 429
            if wait is None or loop.time() + wait >= deadline:
                self.log.warning(
                    f"{self.log_prefix}.failed",
                    **ctx,
                    http_status=result.http_status,
                    error=result.message,
                )
                # An earlier attempt that may have reached the provider keeps it ambiguous.
                outcome = UNKNOWN if reached else result.outcome
                raise self.failure(method, fields, result, outcome)
            reached = reached or result.outcome is UNKNOWN
            self.log.warning(
                f"{self.log_prefix}.retry",
                **ctx,
                http_status=result.http_status,
                error=result.message,
                retry_in_s=round(wait, 3),
            )
            await asyncio.sleep(wait)

    def _next_wait(self, result: Attempt, budget: dict[str, int], throttled: int) -> float | None:
        """Seconds to wait before retrying, or None when the failure is final."""
        if not result.retryable:
            return None
        if result.http_status == 429:
            if result.wait_s is not None:
                # Honour Retry-After, but never hammer a server that answers "0".
                wait = max(result.wait_s, self._retry_delay_s)
            else:
                wait = min(self._retry_delay_s * 2.0**throttled, self._max_backoff_s)
            # A long rate limit is the caller's to wait out, not a held request's.
            return wait if wait <= self._max_inline_wait_s else None
        kind = "5xx" if result.http_status is not None else "network"
        if budget[kind] <= 0:
            return None
        budget[kind] -= 1
        return self._retry_delay_s

    async def _attempt(
        self,
        http_method: str,
        url: str | URL,
        data: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        timeout_s: float,
        method: str,
        idempotent: bool,
    ) -> dict[str, Any] | Attempt:
        """One HTTP exchange: the JSON object on success, else what went wrong."""
        headers = {**self.auth_headers(), "Accept": "application/json", **headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._get_session().request(
                http_method,
                url,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                answer = Answer(response.status, response.headers, await response.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never opened, so nothing reached the provider.
            return Attempt(None, f"cannot connect: {short(exc)}", NOT_SENT, True)
        except TimeoutError:
            return Attempt(None, f"no answer within {timeout_s:g}s", UNKNOWN, idempotent)
        except aiohttp.ClientError as exc:
            return Attempt(None, f"connection lost: {short(exc)}", UNKNOWN, idempotent)
        return self.interpret(answer, method, idempotent)
