"""HTTP client for RunPod's serverless API, with retries that never duplicate a GPU job.

What a failure means for the job (``ProviderOutcome``): a connection that could not be
opened, a 429 and a 5xx answer mean RunPod did not create a job (NOT_SENT: safe to send
again); a 4xx is a refusal (REFUSED); a timeout or a dropped connection after the request
was sent may hide a created job (UNKNOWN).

Treating a 5xx as "not created" is a choice: RunPod documents no case in which it
answers 5xx to ``/run`` after queueing a job, and the alternative (never resending after
a 5xx) turns every passing gateway error into a failed run. At worst a duplicate job runs
at the provider; the consumer's execution still records one result and is charged once.

Retry rules: a submit (``run``, ``runsync``) is never retried in the call: a 429, a 5xx
or a connection that could not be opened fails it at once as NOT_SENT (with RunPod's
Retry-After as ``retry_after_s``), and the caller sends it again later, so no run request
is ever held by a provider's retry delay. For the other calls 5xx answers are retried
``retries_5xx`` times; a 429 is waited out in the call only when its Retry-After is short
(``max_inline_wait_s``), otherwise it fails at once with ``retry_after_s``;
timeouts and dropped connections are retried only for idempotent calls (status, cancel,
health), because a repeated submit could start a second paid job. A connection that
could not be opened sent nothing, so it is retried for every call.
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

from tarsify.domain.errors import ProviderOutcome

log = structlog.get_logger(__name__)

_NOT_SENT, _REFUSED, _UNKNOWN = (
    ProviderOutcome.NOT_SENT,
    ProviderOutcome.REFUSED,
    ProviderOutcome.UNKNOWN,
)

_MAX_MESSAGE = 300


class RunPodError(Exception):
    """A RunPod call failed after retries.

    ``outcome`` says whether a job may have been created (see the module docstring);
    ``retry_after_s`` is RunPod's Retry-After on a 429.
    """

    def __init__(
        self,
        method: str,
        endpoint_id: str,
        job_id: str | None,
        http_status: int | None,
        message: str,
        outcome: ProviderOutcome,
        retry_after_s: float | None = None,
    ) -> None:
        self.method = method
        self.endpoint_id = endpoint_id
        self.job_id = job_id
        self.http_status = http_status
        self.message = message
        self.outcome = outcome
        self.retry_after_s = retry_after_s
        where = f"endpoint={endpoint_id}" + (f" job={job_id}" if job_id else "")
        super().__init__(f"RunPod {method} failed ({where}): {message}")


class RunPodJobNotFound(RunPodError):
    """RunPod answered 404 for a job: unknown id or results already expired."""


@dataclasses.dataclass(slots=True, frozen=True)
class _Attempt:
    """The outcome of one HTTP attempt that did not succeed."""

    http_status: int | None
    message: str
    outcome: ProviderOutcome
    retryable: bool
    wait_s: float | None = None  # set for 429: how long to wait before the next try


class RunPodClient:
    """Async client for ``https://api.runpod.ai/v2``; one long-lived ClientSession."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.runpod.ai/v2",
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
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s
        self._retries_5xx = retries_5xx
        self._retries_network = retries_network
        self._retry_delay_s = retry_delay_s
        self._max_backoff_s = max_backoff_s
        self._deadline_s = deadline_s
        self._max_connections = max_connections
        self._max_inline_wait_s = max_inline_wait_s

    def __repr__(self) -> str:
        return f"RunPodClient(base_url={self._base_url!r})"

    async def run(self, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/run``: queue a job; answers ``{"id", "status"}``."""
        return await self._call(
            "run", "POST", endpoint_id, None, "run", body=body, wait_inline=False
        )

    async def runsync(
        self, endpoint_id: str, body: dict[str, Any], wait_ms: int | None = None
    ) -> dict[str, Any]:
        """POST ``/runsync``: queue a job and wait up to ``wait_ms`` (RunPod's default if None)."""
        params = None if wait_ms is None else {"wait": str(wait_ms)}
        # RunPod holds the request for the whole wait, so the attempt timeout covers it.
        wait_s = (90_000 if wait_ms is None else wait_ms) / 1000
        return await self._call(
            "runsync",
            "POST",
            endpoint_id,
            None,
            "runsync",
            body=body,
            params=params,
            attempt_timeout_s=self._timeout_s + wait_s,
            wait_inline=False,
        )

    async def status(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        """GET ``/status/{job_id}``; raises ``RunPodJobNotFound`` on 404."""
        path = f"status/{quote(job_id, safe='')}"
        return await self._call("status", "GET", endpoint_id, job_id, path, idempotent=True)

    async def stream(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        """GET ``/stream/{job_id}``: the chunks a generator handler yielded since the last
        call (consumed: no other reader sees them again) and the job's status; raises
        ``RunPodJobNotFound`` on 404."""
        path = f"stream/{quote(job_id, safe='')}"
        return await self._call("stream", "GET", endpoint_id, job_id, path, idempotent=True)

    async def cancel(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        """POST ``/cancel/{job_id}``; raises ``RunPodJobNotFound`` on 404."""
        path = f"cancel/{quote(job_id, safe='')}"
        return await self._call("cancel", "POST", endpoint_id, job_id, path, idempotent=True)

    async def retry(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        """POST ``/retry/{job_id}``: run a FAILED or TIMED_OUT job again (not idempotent)."""
        path = f"retry/{quote(job_id, safe='')}"
        return await self._call("retry", "POST", endpoint_id, job_id, path)

    async def health(self, endpoint_id: str) -> dict[str, Any]:
        """GET ``/health``: job and worker counts of the endpoint."""
        return await self._call("health", "GET", endpoint_id, None, "health", idempotent=True)

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop, not the one at construction.
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the ClientSession given to RunPodClient is closed")
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def _call(
        self,
        method: str,
        http_method: str,
        endpoint_id: str,
        job_id: str | None,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
        attempt_timeout_s: float | None = None,
        wait_inline: bool = True,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        per_attempt = attempt_timeout_s or self._timeout_s
        # A runsync attempt may legitimately last its whole wait: the deadline covers it.
        deadline = loop.time() + max(self._deadline_s, attempt_timeout_s or 0)
        url = f"{self._base_url}/{quote(endpoint_id, safe='')}/{path}"
        try:
            data = None if body is None else json.dumps(body).encode()
        except (TypeError, ValueError) as exc:
            raise RunPodError(
                method, endpoint_id, job_id, None, f"body is not JSON: {exc}", _REFUSED
            ) from exc
        budget = {"5xx": self._retries_5xx, "network": self._retries_network}
        attempt, throttled, reached = 0, 0, False
        while True:
            attempt += 1
            started = time.perf_counter()
            timeout = max(0.001, min(per_attempt, deadline - loop.time()))
            result = await self._attempt(
                http_method, url, data, params, timeout, method, idempotent
            )
            if isinstance(result, _Attempt) and self._api_key and self._api_key in result.message:
                # A misbehaving server or proxy could echo the key back in an error body.
                redacted = result.message.replace(self._api_key, "<redacted>")
                result = dataclasses.replace(result, message=redacted)
            ctx = {
                "method": method,
                "endpoint_id": endpoint_id,
                "job_id": job_id,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if isinstance(result, dict):
                if job_id is None and isinstance(result.get("id"), str):
                    ctx["job_id"] = result["id"]
                log.info("runpod.call", **ctx, http_status=200)
                return result
            # A submit fails at once instead (the caller sends again later), so a request
            # running it is never held by a retry delay.
            wait = self._next_wait(result, budget, throttled) if wait_inline else None
            if result.http_status == 429:
                throttled += 1
            if wait is None or loop.time() + wait >= deadline:
                log.warning(
                    "runpod.failed", **ctx, http_status=result.http_status, error=result.message
                )
                error_cls = RunPodJobNotFound if result.http_status == 404 and job_id else None
                # An earlier attempt that may have reached RunPod keeps the outcome ambiguous.
                outcome = _UNKNOWN if reached else result.outcome
                raise (error_cls or RunPodError)(
                    method,
                    endpoint_id,
                    job_id,
                    result.http_status,
                    result.message,
                    outcome,
                    result.wait_s,
                )
            reached = reached or result.outcome is _UNKNOWN
            log.warning(
                "runpod.retry",
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
        timeout_s: float,
        method: str,
        idempotent: bool,
    ) -> dict[str, Any] | _Attempt:
        """One HTTP exchange: the JSON object on success, else what went wrong."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
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
                status = response.status
                raw = await response.read()
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            # The connection was never opened, so nothing reached RunPod.
            return _Attempt(None, f"cannot connect: {_short(exc)}", _NOT_SENT, True)
        except aiohttp.ConnectionTimeoutError as exc:
            return _Attempt(None, f"cannot connect: {_short(exc)}", _NOT_SENT, True)
        except TimeoutError:
            return _Attempt(None, f"no answer within {timeout_s:g}s", _UNKNOWN, idempotent)
        except aiohttp.ClientError as exc:
            return _Attempt(None, f"connection lost: {_short(exc)}", _UNKNOWN, idempotent)
        return _interpret(status, raw, retry_after, method, idempotent)


def _interpret(
    status: int, raw: bytes, retry_after: str | None, method: str, idempotent: bool
) -> dict[str, Any] | _Attempt:
    """Turn an HTTP answer into the parsed body or a classified failure."""
    if 200 <= status < 300:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        return _Attempt(status, "answer is not a JSON object", _UNKNOWN, idempotent)
    text = _body_message(raw)
    if status == 429:
        return _Attempt(
            status, f"HTTP 429 rate limited {text}".strip(), _NOT_SENT, True, _seconds(retry_after)
        )
    if status >= 500:
        return _Attempt(status, f"HTTP {status} {text}".strip(), _NOT_SENT, True)
    if status == 404 and method in ("run", "runsync", "health"):
        return _Attempt(status, "HTTP 404: unknown endpoint", _REFUSED, False)
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


def _body_message(raw: bytes) -> str:
    """A short reason from an error body (RunPod's error bodies are not documented)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw[:_MAX_MESSAGE].decode(errors="replace")
    if isinstance(parsed, dict):
        for key in ("error", "message", "detail"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])[:_MAX_MESSAGE]
    return ""


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:_MAX_MESSAGE]
