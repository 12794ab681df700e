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
could not be opened sent nothing, so it is retried for every call. These transport, retry
and backoff rules are shared with the other providers (``adapters.providers.http``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import structlog

from adapters.providers.http import (
    MAX_MESSAGE,
    REFUSED,
    Answer,
    Attempt,
    RetryingJsonClient,
    encode_body,
    not_an_object,
    parse_json,
    status_failure,
)
from tarsify.domain.errors import ProviderOutcome


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


class RunPodClient(RetryingJsonClient):
    """Async client for ``https://api.runpod.ai/v2``; one long-lived ClientSession."""

    log_prefix = "runpod"
    log = structlog.get_logger(__name__)
    default_base_url = "https://api.runpod.ai/v2"

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

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def interpret(self, answer: Answer, method: str, idempotent: bool) -> dict[str, Any] | Attempt:
        return _interpret(answer, method, idempotent)

    def success_fields(self, result: dict[str, Any], ctx: dict[str, Any]) -> None:
        if ctx["job_id"] is None and isinstance(result.get("id"), str):
            ctx["job_id"] = result["id"]
        ctx["http_status"] = 200

    def failure(
        self, method: str, fields: dict[str, Any], result: Attempt, outcome: ProviderOutcome
    ) -> Exception:
        job_id = fields["job_id"]
        error_cls = RunPodJobNotFound if result.http_status == 404 and job_id else RunPodError
        return error_cls(
            method,
            fields["endpoint_id"],
            job_id,
            result.http_status,
            result.message,
            outcome,
            result.wait_s,
        )

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
        url = f"{self.base_url}/{quote(endpoint_id, safe='')}/{path}"
        try:
            data = encode_body(body)
        except (TypeError, ValueError) as exc:
            raise RunPodError(
                method, endpoint_id, job_id, None, f"body is not JSON: {exc}", REFUSED
            ) from exc
        return await self._send(
            method,
            http_method,
            url,
            data,
            fields={"endpoint_id": endpoint_id, "job_id": job_id},
            headers={},
            params=params,
            idempotent=idempotent,
            wait_inline=wait_inline,
            attempt_timeout_s=attempt_timeout_s,
        )


def _interpret(answer: Answer, method: str, idempotent: bool) -> dict[str, Any] | Attempt:
    """Turn an HTTP answer into the parsed body or a classified failure."""
    status = answer.status
    if 200 <= status < 300:
        parsed = parse_json(answer.body)
        if isinstance(parsed, dict):
            return parsed
        return not_an_object(status, idempotent)
    if status == 404 and method in ("run", "runsync", "health"):
        return Attempt(status, "HTTP 404: unknown endpoint", REFUSED, False)
    return status_failure(status, _body_message(answer.body), answer.headers.get("Retry-After"))


def _body_message(raw: bytes) -> str:
    """A short reason from an error body (RunPod's error bodies are not documented)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw[:MAX_MESSAGE].decode(errors="replace")
    if isinstance(parsed, dict):
        for key in ("error", "message", "detail"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])[:MAX_MESSAGE]
    return ""
