"""HTTP client for fal's queue API, with retries that never duplicate a GPU request.

What a failure means for the request (``ProviderOutcome``), as for RunPod: a connection
that could not be opened, a 429 and a 5xx answer mean fal did not queue a request
(NOT_SENT: safe to send again); a 4xx is a refusal (REFUSED); a timeout or a dropped
connection after the submit was sent may hide a queued request (UNKNOWN).

Retry rules: a submit is never retried in the call (a 429, a 5xx or a connection that
could not be opened fails it at once as NOT_SENT, with fal's Retry-After); status,
result and cancel are idempotent reads or requests: their 5xx answers are retried
``retries_5xx`` times, a short 429 (``max_inline_wait_s``) is waited out, timeouts and
dropped connections are retried. A result answer that names an ``error_type`` is the
stored outcome of a failed request, not a passing error: it is never retried.

Status, result and cancel go to the URLs fal gave back at submit; the key is only ever
sent to the configured queue's own origin, and never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from yarl import URL

from tarsify.domain.errors import ProviderOutcome

log = structlog.get_logger(__name__)

_NOT_SENT, _REFUSED, _UNKNOWN = (
    ProviderOutcome.NOT_SENT,
    ProviderOutcome.REFUSED,
    ProviderOutcome.UNKNOWN,
)
_MAX_MESSAGE = 300
DEFAULT_BASE_URL = "https://queue.fal.run"


class FalError(Exception):
    """A fal call failed after retries.

    ``outcome`` says whether a request may have been queued (see the module docstring);
    ``retry_after_s`` is fal's Retry-After on a 429; ``error_type`` is fal's category of
    a failed request (``request_timeout``, ...) when the answer named one.
    """

    def __init__(
        self,
        method: str,
        target: str,
        http_status: int | None,
        message: str,
        outcome: ProviderOutcome,
        retry_after_s: float | None = None,
        error_type: str | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.http_status = http_status
        self.message = message
        self.outcome = outcome
        self.retry_after_s = retry_after_s
        self.error_type = error_type
        super().__init__(f"fal {method} failed ({target}): {message}")


class FalRequestNotFound(FalError):
    """fal answered 404 for a request: unknown id, or its payload expired."""


@dataclasses.dataclass(slots=True, frozen=True)
class _Attempt:
    """The outcome of one HTTP attempt that did not succeed."""

    http_status: int | None
    message: str
    outcome: ProviderOutcome
    retryable: bool
    wait_s: float | None = None  # set for 429: how long to wait before the next try
    error_type: str | None = None


class FalClient:
    """Async client for ``https://queue.fal.run``; one long-lived ClientSession."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
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
        self.base_url = base_url.rstrip("/")
        self._origin = URL(self.base_url).origin()
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
        return f"FalClient(base_url={self.base_url!r})"

    async def submit(
        self,
        model_id: str,
        input: dict[str, Any],
        *,
        callback_url: str | None = None,
        start_timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """POST ``/{model_id}`` with the input as the body; answers ``request_id`` and URLs.

        ``start_timeout_s`` is fal's time-to-start deadline (``X-Fal-Request-Timeout``).
        """
        url = f"{self.base_url}/{quote(model_id.strip('/'), safe='/')}"
        params = None if callback_url is None else {"fal_webhook": callback_url}
        headers = {}
        if start_timeout_s is not None:
            headers["X-Fal-Request-Timeout"] = f"{start_timeout_s:g}"
        return await self._call(
            "submit", "POST", url, model_id, body=input, params=params, headers=headers
        )

    async def status(self, status_url: str, *, logs: bool = False) -> dict[str, Any]:
        """GET the ``status_url``; ``logs`` adds the runner's log lines."""
        params = {"logs": "1"} if logs else None
        return await self._call("status", "GET", status_url, status_url, params=params)

    async def result(self, response_url: str) -> dict[str, Any]:
        """GET the ``response_url``: the model's output once the request is COMPLETED."""
        return await self._call("result", "GET", response_url, response_url)

    async def cancel(self, cancel_url: str) -> dict[str, Any]:
        """PUT the ``cancel_url``: ``{"status": "CANCELLATION_REQUESTED"}`` or, for a
        request that had finished, ``{"status": "ALREADY_COMPLETED"}`` (fal's 400)."""
        return await self._call("cancel", "PUT", cancel_url, cancel_url)

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop, not the one at construction.
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the ClientSession given to FalClient is closed")
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def _call(
        self,
        method: str,
        http_method: str,
        url: str,
        target: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        target = target.removeprefix(self.base_url + "/")
        if URL(url).origin() != self._origin:
            # A URL on another host would receive the key: never follow one.
            raise FalError(method, target, None, "URL outside the fal queue", _REFUSED)
        try:
            data = None if body is None else json.dumps(body).encode()
        except (TypeError, ValueError) as exc:
            raise FalError(method, target, None, f"body is not JSON: {exc}", _REFUSED) from exc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        idempotent = method != "submit"
        budget = dict(self._retries)
        attempt, throttled, reached = 0, 0, False
        while True:
            attempt += 1
            started = time.perf_counter()
            timeout = max(0.001, min(self._timeout_s, deadline - loop.time()))
            result = await self._attempt(
                http_method, url, data, params, headers or {}, timeout, method, idempotent
            )
            if isinstance(result, _Attempt) and self._api_key and self._api_key in result.message:
                # A misbehaving server or proxy could echo the key back in an error body.
                redacted = result.message.replace(self._api_key, "<redacted>")
                result = dataclasses.replace(result, message=redacted)
            ctx = {
                "method": method,
                "target": target,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if isinstance(result, dict):
                if isinstance(result.get("request_id"), str):
                    ctx["request_id"] = result["request_id"]
                log.info("fal.call", **ctx)
                return result
            # A submit fails at once instead (the caller sends again later).
            wait = self._next_wait(result, budget, throttled) if idempotent else None
            throttled += result.http_status == 429
            if wait is None or loop.time() + wait >= deadline:
                log.warning(
                    "fal.failed", **ctx, http_status=result.http_status, error=result.message
                )
                error_cls = FalRequestNotFound if result.http_status == 404 and idempotent else None
                # An earlier attempt that may have reached fal keeps the outcome ambiguous.
                outcome = _UNKNOWN if reached else result.outcome
                raise (error_cls or FalError)(
                    method,
                    target,
                    result.http_status,
                    result.message,
                    outcome,
                    result.wait_s,
                    result.error_type,
                )
            reached = reached or result.outcome is _UNKNOWN
            log.warning(
                "fal.retry",
                **ctx,
                http_status=result.http_status,
                error=result.message,
                retry_in_s=round(wait, 3),
            )
            await asyncio.sleep(wait)

    def _next_wait(self, result: _Attempt, budget: dict[str, int], throttled: int) -> float | None:
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
        url: str,
        data: bytes | None,
        params: dict[str, str] | None,
        extra_headers: dict[str, str],
        timeout_s: float,
        method: str,
        idempotent: bool,
    ) -> dict[str, Any] | _Attempt:
        """One HTTP exchange: the JSON object on success, else what went wrong."""
        headers = {
            "Authorization": f"Key {self._api_key}",
            "Accept": "application/json",
            **extra_headers,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._get_session().request(
                http_method,
                URL(url, encoded=True),
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                status = response.status
                raw = await response.read()
                retry_after = response.headers.get("Retry-After")
                error_type = response.headers.get("X-Fal-Error-Type")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never opened, so nothing reached fal.
            return _Attempt(None, f"cannot connect: {_short(exc)}", _NOT_SENT, True)
        except TimeoutError:
            return _Attempt(None, f"no answer within {timeout_s:g}s", _UNKNOWN, idempotent)
        except aiohttp.ClientError as exc:
            return _Attempt(None, f"connection lost: {_short(exc)}", _UNKNOWN, idempotent)
        return _interpret(status, raw, retry_after, error_type, method)


def _interpret(
    status: int, raw: bytes, retry_after: str | None, error_type: str | None, method: str
) -> dict[str, Any] | _Attempt:
    """Turn an HTTP answer into the parsed body or a classified failure."""
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = None
    if 200 <= status < 300:
        if isinstance(parsed, dict):
            return parsed
        return _Attempt(status, "answer is not a JSON object", _UNKNOWN, method != "submit")
    if method == "cancel" and isinstance(parsed, dict) and parsed.get("status"):
        return parsed  # 400 {"status": "ALREADY_COMPLETED"} is an answer, not a failure
    text = _body_message(parsed, raw)
    if isinstance(parsed, dict) and isinstance(parsed.get("error_type"), str):
        error_type = error_type or parsed["error_type"]
    if method == "result" and error_type:
        # The stored outcome of a failed request: asking again gives the same answer.
        return _Attempt(status, text or error_type, _REFUSED, False, error_type=error_type)
    if status == 429:
        message = f"HTTP 429 rate limited {text}".strip()
        return _Attempt(status, message, _NOT_SENT, True, _seconds(retry_after))
    if status >= 500:
        return _Attempt(status, f"HTTP {status} {text}".strip(), _NOT_SENT, True)
    if status == 404 and method == "submit":
        return _Attempt(status, "HTTP 404: unknown model", _REFUSED, False)
    if 400 <= status < 500:
        return _Attempt(status, f"HTTP {status} {text}".strip(), _REFUSED, False)
    return _Attempt(status, f"unexpected HTTP {status}", _UNKNOWN, False)


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds; HTTP dates are rare here and fall back to backoff."""
    if retry_after is None:
        return None
    try:
        value = float(retry_after)
    except ValueError:
        return None
    return value if value >= 0 else None


def _body_message(parsed: Any, raw: bytes) -> str:
    """A short reason from fal's ``{"detail": ...}``: a string, or the schema errors
    (``[{"loc", "msg", "type"}]``) of a 422."""
    if parsed is None:
        return raw[:_MAX_MESSAGE].decode(errors="replace")
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    if isinstance(detail, str):
        return detail[:_MAX_MESSAGE]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and isinstance(item.get("msg"), str):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                parts.append(f"{where}: {item['msg']}" if where else item["msg"])
        return "; ".join(parts)[:_MAX_MESSAGE]
    return ""


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:_MAX_MESSAGE]
