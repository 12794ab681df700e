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

Streams (``open_stream``) go to ``fal.run`` (``run_url``), outside the queue: a stream is
never retried (fal would run it twice); its errors before the first byte follow the
submit's rules, and a timeout waiting for the answer is UNKNOWN. The events are then read
with ``FalStream.events`` (``adapters.providers.fal.sse``).

Status, result and cancel go to the URLs fal gave back at submit; the key is only ever
sent to the configured queue's and run host's own origins, and never logged. The
transport, retry and backoff rules are shared with the other providers
(``adapters.providers.http``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from yarl import URL

from adapters.providers.fal.sse import FalStream
from adapters.providers.http import (
    MAX_MESSAGE,
    NOT_SENT,
    REFUSED,
    UNKNOWN,
    Answer,
    Attempt,
    RetryingJsonClient,
    encode_body,
    not_an_object,
    parse_json,
    short,
    status_failure,
)
from tarsify.domain.errors import ProviderOutcome

DEFAULT_BASE_URL = "https://queue.fal.run"
DEFAULT_RUN_URL = "https://fal.run"
_ERROR_BODY_BYTES = 64 * 1024


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


class FalClient(RetryingJsonClient):
    """Async client for ``https://queue.fal.run`` and, for streams, ``https://fal.run``
    (``run_url``); one long-lived ClientSession."""

    log_prefix = "fal"
    log = structlog.get_logger(__name__)
    default_base_url = DEFAULT_BASE_URL

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        run_url: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(api_key, base_url, **options)
        self.run_url = (DEFAULT_RUN_URL if run_url is None else run_url).rstrip("/")

    async def open_stream(self, model_id: str, input: dict[str, Any]) -> FalStream:
        """POST ``{run_url}/{model_id}/stream`` with the input as the body; the open stream
        once fal answers 2xx. Sent once: never retried (see the module docstring)."""
        target = f"{model_id.strip('/')}/stream"
        url = URL(f"{self.run_url}/{quote(target, safe='/')}", encoded=True)
        try:
            data = encode_body(input)
        except (TypeError, ValueError) as exc:
            raise FalError("stream", target, None, f"body is not JSON: {exc}", REFUSED) from exc
        headers = {
            **self.auth_headers(),
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
        # No total timeout: the stream lasts as long as the request runs (its reader
        # has its own idle limit); the answer's head must come within ``timeout_s``.
        no_limit = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout_s)
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._get_session().post(
                    url, data=data, headers=headers, timeout=no_limit
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            message = f"cannot connect: {short(exc)}"
            raise self._stream_failed(target, None, message, NOT_SENT) from exc
        except TimeoutError:
            message = f"no answer within {self._timeout_s:g}s"
            raise self._stream_failed(target, None, message, UNKNOWN) from None
        except aiohttp.ClientError as exc:
            message = f"connection lost: {short(exc)}"
            raise self._stream_failed(target, None, message, UNKNOWN) from exc
        if 200 <= response.status < 300:
            stream = FalStream(response)
            self.log.info("fal.call", method="stream", target=target, request_id=stream.request_id)
            return stream
        try:
            async with asyncio.timeout(self._timeout_s):
                body = await response.content.read(_ERROR_BODY_BYTES)
        except (TimeoutError, aiohttp.ClientError):
            body = b""
        finally:
            response.close()
        answer = Answer(response.status, response.headers, body)
        failed = _interpret(answer, "stream")
        assert isinstance(failed, Attempt)  # only a 2xx answer is a stream
        message = failed.message.replace(self._api_key, "<redacted>") if self._api_key else ""
        raise self._stream_failed(
            target, response.status, message or failed.message, failed.outcome, failed.wait_s
        )

    def _stream_failed(
        self,
        target: str,
        http_status: int | None,
        message: str,
        outcome: ProviderOutcome,
        retry_after_s: float | None = None,
    ) -> FalError:
        self.log.warning(
            "fal.failed", method="stream", target=target, http_status=http_status, error=message
        )
        return FalError("stream", target, http_status, message, outcome, retry_after_s)

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

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self._api_key}"}

    def interpret(self, answer: Answer, method: str, idempotent: bool) -> dict[str, Any] | Attempt:
        return _interpret(answer, method)

    def success_fields(self, result: dict[str, Any], ctx: dict[str, Any]) -> None:
        if isinstance(result.get("request_id"), str):
            ctx["request_id"] = result["request_id"]

    def failure(
        self, method: str, fields: dict[str, Any], result: Attempt, outcome: ProviderOutcome
    ) -> Exception:
        idempotent = method != "submit"
        error_cls = FalRequestNotFound if result.http_status == 404 and idempotent else FalError
        return error_cls(
            method,
            fields["target"],
            result.http_status,
            result.message,
            outcome,
            result.wait_s,
            result.error_type,
        )

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
        if URL(url).origin() != URL(self.base_url).origin():
            # A URL on another host would receive the key: never follow one.
            raise FalError(method, target, None, "URL outside the fal queue", REFUSED)
        try:
            data = encode_body(body)
        except (TypeError, ValueError) as exc:
            raise FalError(method, target, None, f"body is not JSON: {exc}", REFUSED) from exc
        # Only a submit is not idempotent: it fails at once instead of being retried.
        idempotent = method != "submit"
        return await self._send(
            method,
            http_method,
            URL(url, encoded=True),
            data,
            fields={"target": target},
            headers=headers or {},
            params=params,
            idempotent=idempotent,
            wait_inline=idempotent,
        )


def _interpret(answer: Answer, method: str) -> dict[str, Any] | Attempt:
    """Turn an HTTP answer into the parsed body or a classified failure."""
    status, parsed = answer.status, parse_json(answer.body)
    if 200 <= status < 300 and method != "stream":
        if isinstance(parsed, dict):
            return parsed
        return not_an_object(status, method != "submit")
    if method == "cancel" and isinstance(parsed, dict) and parsed.get("status"):
        return parsed  # 400 {"status": "ALREADY_COMPLETED"} is an answer, not a failure
    text = _body_message(parsed, answer.body)
    error_type = answer.headers.get("X-Fal-Error-Type")
    if isinstance(parsed, dict) and isinstance(parsed.get("error_type"), str):
        error_type = error_type or parsed["error_type"]
    if method == "result" and error_type:
        # The stored outcome of a failed request: asking again gives the same answer.
        return Attempt(status, text or error_type, REFUSED, False, error_type=error_type)
    if status == 404 and method == "submit":
        return Attempt(status, "HTTP 404: unknown model", REFUSED, False)
    if status == 404 and method == "stream":
        return Attempt(status, "HTTP 404: unknown model or no streaming endpoint", REFUSED, False)
    return status_failure(status, text, answer.headers.get("Retry-After"))


def _body_message(parsed: Any, raw: bytes) -> str:
    """A short reason from fal's ``{"detail": ...}``: a string, or the schema errors
    (``[{"loc", "msg", "type"}]``) of a 422."""
    if parsed is None:
        return raw[:MAX_MESSAGE].decode(errors="replace")
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    if isinstance(detail, str):
        return detail[:MAX_MESSAGE]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and isinstance(item.get("msg"), str):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                parts.append(f"{where}: {item['msg']}" if where else item["msg"])
        return "; ".join(parts)[:MAX_MESSAGE]
    return ""
