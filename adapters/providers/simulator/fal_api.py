"""A faithful fake of fal's queue API (``https://queue.fal.run``), backed by the simulator engine.

The wire, as fal documents it: ``POST /{owner}/{app}[/{path}]`` with the model's input
itself as the JSON body and ``Authorization: Key <key>`` answers ``request_id``,
``response_url``, ``status_url``, ``cancel_url`` and ``queue_position``; the request's URLs
live under the app's id without the sub-path (``/{owner}/{app}/requests/{id}``). Its status
is 202 ``IN_QUEUE`` (with ``queue_position``) or ``IN_PROGRESS``, then 200 ``COMPLETED`` — a
failed request too, with ``error`` and ``error_type`` — with ``metrics.inference_time``
once it ran. Its result is the model's output, media on CDN-style URLs of this server that
expire (``fal_files``); before completion 400, unknown or expired 404. ``PUT .../cancel``
answers 202 ``CANCELLATION_REQUESTED`` (a queued request is removed, a running one ends
``request_cancelled``) or 400 ``ALREADY_COMPLETED``. ``X-Fal-Request-Timeout`` is a
time-to-start deadline (missed: ``request_timeout``); a run is capped by its app's own
timeout (``app_timeout_s``), never by the caller. A ``fal_webhook`` URL is recorded on the
request and called with fal's webhook body once it completes (``fal_webhooks``;
``app[WEBHOOKS_KEY]`` shows the deliveries). The same server answers fal's streaming
apps (``https://fal.run/{model}/stream``, ``fal_streams``; ``app[STREAMS_KEY]``).

A mutable ``FalFaultPlan`` (``fal_faults``) injects 5xx, 429, 401, slow answers and dropped
connections per route, results whose payload expired and cancellations that come too
late, and no webhook calls (``webhooks = False``). Run it standalone with
``python -m adapters.providers.simulator.fal_api --port 8090``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from aiohttp import web

from adapters.providers.simulator.cli import add_output_type_option, engine_of, output_types
from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_files import CDN_KEY, CdnFiles, serve_cdn_file
from adapters.providers.simulator.fal_queue import (
    COMPLETED,
    IN_QUEUE,
    QUEUE_KEY,
    RESULT_STATUS,
    FalQueue,
    FalRequest,
    State,
)
from adapters.providers.simulator.fal_streams import install as install_streams
from adapters.providers.simulator.fal_webhooks import WEBHOOKS_KEY, FalWebhookSender, install
from adapters.providers.simulator.faults import apply_faults
from tarsify.domain.models import OutputType

BODY_LIMIT_BYTES = 20 * 1024 * 1024
PRIORITIES = ("normal", "low")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ApiError(Exception):
    """An error answer with fal's ``{"detail": ...}`` body, rendered by the middleware."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


@web.middleware
async def _faults_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log the request, apply the next fault, then check the key."""
    queue = request.app[QUEUE_KEY]
    route = request.match_info.route.name or "other"
    if route == "files":  # CDN objects are public URLs
        return await handler(request)

    def refuse(status: int, headers: dict[str, str]) -> web.StreamResponse:
        return _detail(status, f"simulated HTTP {status}", headers)

    async def answer() -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Key {queue.api_key}":
            return _detail(401, "No user found for Key ID and Secret")
        try:
            return await handler(request)
        except _ApiError as exc:
            return _detail(exc.status, exc.detail)

    return await apply_faults(request, queue.faults, route, refuse, answer)


def _invalid(loc: list[str], msg: str, kind: str) -> _ApiError:
    """A 422 in the shape of fal's schema validation errors."""
    return _ApiError(422, [{"loc": loc, "msg": msg, "type": kind}])


async def _read_input(request: web.Request) -> dict[str, Any]:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _ApiError(413, f"payload over {BODY_LIMIT_BYTES} bytes") from None
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise _invalid(["body"], "Input should be a valid JSON object", "json_invalid") from None
    if not isinstance(body, dict):
        raise _invalid(["body"], "Input should be a valid dictionary", "dict_type")
    return body


def _start_timeout(request: web.Request) -> float | None:
    raw = request.headers.get("X-Fal-Request-Timeout")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0.1:
        raise _ApiError(400, "X-Fal-Request-Timeout must be a number of seconds over 0.1")
    return value


def _urls(request: web.Request, rec: FalRequest) -> dict[str, str]:
    base = request.app[QUEUE_KEY].public_url or str(request.url.origin())
    response_url = f"{base}/{rec.app_id}/requests/{rec.request_id}"
    return {
        "response_url": response_url,
        "status_url": f"{response_url}/status",
        "cancel_url": f"{response_url}/cancel",
    }


async def _submit(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    info = request.match_info
    app_id = f"{info['owner']}/{info['app']}"
    model_id = app_id + info["path"]  # the sub-path, if any, with its leading slash
    if not queue.knows(model_id):
        raise _ApiError(404, f"Application '{model_id}' not found")
    priority = request.headers.get("X-Fal-Queue-Priority", "normal")
    if priority not in PRIORITIES:
        raise _ApiError(400, "X-Fal-Queue-Priority must be 'normal' or 'low'")
    webhook = request.query.get("fal_webhook")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise _ApiError(400, "fal_webhook must be an http(s) URL")
    rec = queue.submit(
        model_id,
        await _read_input(request),
        start_timeout_s=_start_timeout(request),
        webhook=webhook,
        priority=priority,
        no_retry=request.headers.get("X-Fal-No-Retry", "").lower() in ("1", "true", "yes"),
    )
    # A result's CDN links are made under the request's origin (``_result``), as are
    # the webhook payload's.
    request.app[WEBHOOKS_KEY].register(rec, str(request.url.origin()))
    return web.json_response(
        {
            "request_id": rec.request_id,
            **_urls(request, rec),
            "queue_position": queue.queue_position(rec),
        }
    )


def _found(request: web.Request) -> tuple[FalRequest, State]:
    info = request.match_info
    found = request.app[QUEUE_KEY].find(f"{info['owner']}/{info['app']}", info["request_id"])
    if found is None:
        raise _ApiError(404, "Request not found")
    return found


async def _status(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    rec, state = _found(request)
    body: dict[str, Any] = {"status": state.status, "request_id": rec.request_id}
    body.update(_urls(request, rec))
    if state.status == IN_QUEUE:
        body["queue_position"] = queue.queue_position(rec)
    body["logs"] = state.logs() if request.query.get("logs") in ("1", "true") else None
    if state.inference_s is not None:
        body["metrics"] = {"inference_time": state.inference_s}
    if state.error_type is not None:
        body["error"], body["error_type"] = state.error, state.error_type
    return web.json_response(body, status=200 if state.status == COMPLETED else 202)


async def _result(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    rec, state = _found(request)
    if queue.faults.take_expired_result():
        rec.result_expired = True
    if rec.result_expired:
        raise _ApiError(404, "Request not found")
    if state.status != COMPLETED:
        raise _ApiError(400, "Request is still in progress")
    if state.error_type is not None:
        return _detail(
            RESULT_STATUS.get(state.error_type, 500),
            state.error,
            {"X-Fal-Error-Type": state.error_type},
        )
    return web.json_response(queue.output(rec, state, str(request.url.origin())))


async def _cancel(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    rec, state = _found(request)
    if state.status == COMPLETED:
        return web.json_response({"status": "ALREADY_COMPLETED"}, status=400)
    if not queue.faults.take_late_cancel():
        queue.cancel(rec)
    return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)


def create_fake_fal_app(
    engine: SimulatorEngine,
    api_key: str = "test-fal-key",
    known_models: Collection[str] | None = None,
    faults: FalFaultPlan | None = None,
    *,
    output_types: Mapping[str, OutputType] | None = None,
    app_timeout_s: float = 3600.0,
    file_ttl_s: float = 3600.0,
    public_url: str | None = None,
    webhook_retry_delay_s: float = 1.0,
) -> web.Application:
    """The fake fal queue over ``engine``; ``app[QUEUE_KEY]`` is its live state.

    ``known_models`` are full model ids (``owner/app[/path]``; None accepts any);
    ``output_types`` says which simulated output each model returns (default JSON);
    ``public_url`` is the base of the URLs it answers (default: the request's origin);
    a webhook that fails is tried again ``webhook_retry_delay_s`` later.
    """
    app = web.Application(middlewares=[_faults_and_auth], client_max_size=BODY_LIMIT_BYTES)
    cdn = CdnFiles(engine.now, file_ttl_s)
    app[CDN_KEY] = cdn
    queue = FalQueue(
        engine,
        api_key,
        cdn,
        faults if faults is not None else FalFaultPlan(),
        known_models=known_models,
        output_types=output_types,
        app_timeout_s=app_timeout_s,
        public_url=public_url,
    )
    app[QUEUE_KEY] = queue
    install(app, FalWebhookSender(queue, retry_delay_s=webhook_retry_delay_s))
    request = "/{owner}/{app}/requests/{request_id}"
    app.router.add_get("/files/{token}/{name}", serve_cdn_file, name="files")
    app.router.add_get(request + "/status", _status, name="status")
    app.router.add_put(request + "/cancel", _cancel, name="cancel")
    app.router.add_get(request, _result, name="result")
    install_streams(app)  # fal.run's ``/stream`` (the test points the run URL here too)
    app.router.add_post("/{owner}/{app}{path:(?:/.+)?}", _submit, name="submit")
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the fake fal queue until interrupted."""
    parser = argparse.ArgumentParser(description="Fake fal.ai queue API (simulated requests)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default=os.environ.get("FAKE_FAL_KEY", "test-fal-key"))
    parser.add_argument("--model", action="append", help="known model id (repeatable)")
    parser.add_argument("--queue-delay", type=float, default=0.5, help="seconds in queue")
    parser.add_argument("--run-time", type=float, default=2.0, help="seconds of simulated run")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--file-ttl", type=float, default=3600.0, help="CDN file lifetime (s)")
    add_output_type_option(parser, "model", "a")
    args = parser.parse_args(argv)
    app = create_fake_fal_app(
        engine_of(args, id_suffix=""),
        args.api_key,
        args.model,
        output_types=output_types(args.output_type),
        file_ttl_s=args.file_ttl,
    )
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
