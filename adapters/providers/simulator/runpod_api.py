"""A faithful fake of RunPod's serverless HTTP API, backed by the simulator engine.

Routes are those of ``https://api.runpod.ai/v2`` without the ``/v2`` prefix (pass
``base_path="/v2"`` to keep it). A mutable ``FaultPlan`` injects 5xx bursts, 429s, slow
answers and dropped connections per route, and logs every request so tests can count
calls. Run it standalone with ``python -m adapters.providers.simulator.runpod_api --port 8089``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.providers.simulator.callbacks import SENDER_KEY, CallbackSender, install
from adapters.providers.simulator.cli import add_output_type_option, engine_of, output_types
from adapters.providers.simulator.engine import IN_QUEUE, NotRetryable, SimulatorEngine
from adapters.providers.simulator.faults import RouteFaults, apply_faults
from adapters.providers.simulator.files import serve_file, with_file_urls
from tarsify.domain.models import OutputType

RUN_LIMIT_BYTES = 10 * 1024 * 1024
RUNSYNC_LIMIT_BYTES = 20 * 1024 * 1024
DEFAULT_WAIT_MS = 90_000
MAX_WAIT_MS = 300_000
ROUTES = ("run", "runsync", "status", "stream", "cancel", "retry", "health")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FaultPlan(RouteFaults):
    """Faults to inject, consumed in order per route (``"*"`` matches every route).

    Tests may change it while the server runs. ``latency_s`` delays every answer.
    """

    routes = ROUTES


ENGINE_KEY = web.AppKey("engine", SimulatorEngine)
FAULTS_KEY = web.AppKey("faults", FaultPlan)
API_KEY = web.AppKey("api_key", str)
KNOWN_KEY = web.AppKey[frozenset[str] | None]("known_endpoints")
OUTPUT_TYPES_KEY = web.AppKey[dict[str, OutputType]]("output_types")
STREAMING_KEY = web.AppKey[frozenset[str]]("streaming_endpoints")


class _ApiError(Exception):
    """An error answer, raised from a handler and rendered by the middleware."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def _faults_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log the request, apply the next fault, then check the API key."""
    route = request.match_info.route.name or "other"
    if route == "files":  # presigned-style links carry their own credential
        return await handler(request)

    def refuse(status: int, headers: dict[str, str]) -> web.StreamResponse:
        # Like a gateway in front of RunPod: refused before any work is done.
        return _error(status, f"simulated HTTP {status}", headers)

    async def answer() -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {request.app[API_KEY]}":
            return _error(401, "Unauthorized")
        try:
            return await handler(request)
        except _ApiError as exc:
            return _error(exc.status, exc.message)

    return await apply_faults(request, request.app[FAULTS_KEY], route, refuse, answer)


def _endpoint(request: web.Request) -> str:
    endpoint_id = request.match_info["endpoint_id"]
    known = request.app[KNOWN_KEY]
    if known is not None and endpoint_id not in known:
        raise _ApiError(404, "endpoint not found")
    return endpoint_id


async def _read_job_body(request: web.Request, limit: int) -> dict[str, Any]:
    """The ``/run`` body as RunPod validates it: a JSON object with an ``input`` object."""
    if (request.content_length or 0) > limit:
        raise _ApiError(413, f"payload over {limit} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _ApiError(413, f"payload over {limit} bytes") from None
    if len(raw) > limit:
        raise _ApiError(413, f"payload over {limit} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad_request("body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise _bad_request("body must be a JSON object with an 'input' object")
    policy = body.get("policy", {})
    if not isinstance(policy, dict) or not all(
        _positive_int(policy.get(key, 1)) for key in ("executionTimeout", "ttl")
    ):
        raise _bad_request("policy.executionTimeout and policy.ttl must be positive integers (ms)")
    return body


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _bad_request(message: str) -> _ApiError:
    return _ApiError(400, message)


def _submit(request: web.Request, endpoint_id: str, body: dict[str, Any], sync: bool) -> str:
    policy = body.get("policy") or {}
    # RunPod has no output type: the fake knows one per endpoint (JSON when not told).
    output_type = request.app[OUTPUT_TYPES_KEY].get(endpoint_id, OutputType.JSON)
    view = request.app[ENGINE_KEY].submit(
        endpoint_id,
        body["input"],
        output_type=output_type,
        execution_timeout_ms=policy.get("executionTimeout"),
        ttl_ms=policy.get("ttl"),
        sync=sync,
        streaming=endpoint_id in request.app[STREAMING_KEY],
    )
    webhook = body.get("webhook")
    if webhook is not None:
        if not isinstance(webhook, str) or not webhook.startswith(("http://", "https://")):
            raise _bad_request("webhook must be an http(s) URL")
        request.app[SENDER_KEY].register(endpoint_id, view.id, webhook)
    return view.id


async def _run(request: web.Request) -> web.Response:
    endpoint_id = _endpoint(request)
    body = await _read_job_body(request, RUN_LIMIT_BYTES)
    return web.json_response({"id": _submit(request, endpoint_id, body, False), "status": IN_QUEUE})


async def _runsync(request: web.Request) -> web.Response:
    endpoint_id = _endpoint(request)
    try:
        wait_ms = min(int(request.query.get("wait", DEFAULT_WAIT_MS)), MAX_WAIT_MS)
    except ValueError:
        raise _bad_request("wait must be an integer number of milliseconds") from None
    if wait_ms < 0:
        raise _bad_request("wait must not be negative")
    body = await _read_job_body(request, RUNSYNC_LIMIT_BYTES)
    job_id = _submit(request, endpoint_id, body, True)
    view = await request.app[ENGINE_KEY].wait(endpoint_id, job_id, wait_ms / 1000)
    if view is None:
        return _error(404, "job not found")
    answer = view.to_runpod() if view.is_terminal else {"id": view.id, "status": view.status}
    return _answer(request, answer)


def _answer(request: web.Request, body: dict[str, Any]) -> web.Response:
    """A job answer, its simulated files given as this server's expiring URLs."""
    if "output" in body:
        body = {**body, "output": with_file_urls(body["output"], str(request.url.origin()))}
    return web.json_response(body)


async def _status(request: web.Request) -> web.Response:
    view = request.app[ENGINE_KEY].get(_endpoint(request), request.match_info["job_id"])
    return _error(404, "job not found") if view is None else _answer(request, view.to_runpod())


async def _stream(request: web.Request) -> web.Response:
    """The chunks yielded since the previous call, consumed on read, and the status."""
    read = request.app[ENGINE_KEY].stream(_endpoint(request), request.match_info["job_id"])
    if read is None:
        return _error(404, "job not found")
    view, chunks = read
    base = str(request.url.origin())
    stream = [{"output": with_file_urls(c, base)} for c in chunks]
    return web.json_response({"id": view.id, "status": view.status, "stream": stream})


async def _cancel(request: web.Request) -> web.Response:
    view = request.app[ENGINE_KEY].cancel(_endpoint(request), request.match_info["job_id"])
    if view is None:
        return _error(404, "job not found")
    return web.json_response({"id": view.id, "status": view.status})


async def _retry(request: web.Request) -> web.Response:
    try:
        view = request.app[ENGINE_KEY].retry(_endpoint(request), request.match_info["job_id"])
    except NotRetryable as exc:
        return _error(400, str(exc))
    if view is None:
        return _error(404, "job not found")
    return web.json_response({"id": view.id, "status": IN_QUEUE})


async def _health(request: web.Request) -> web.Response:
    return web.json_response(request.app[ENGINE_KEY].health(_endpoint(request)))


def create_fake_runpod_app(
    engine: SimulatorEngine,
    api_key: str = "test-api-key",
    known_endpoints: Collection[str] | None = None,
    faults: FaultPlan | None = None,
    *,
    output_types: Mapping[str, OutputType] | None = None,
    base_path: str = "",
    callbacks: CallbackSender | None = None,
    streaming: Collection[str] = (),
) -> web.Application:
    """The fake RunPod API over ``engine``; ``app[FAULTS_KEY]`` is the live fault plan.

    ``output_types`` says which simulated output each endpoint returns (default JSON);
    the workers of the ``streaming`` endpoints are generator handlers (``/stream``);
    ``callbacks`` calls the ``webhook`` of submitted jobs back (``app[SENDER_KEY]``).
    """
    app = web.Application(middlewares=[_faults_and_auth], client_max_size=RUNSYNC_LIMIT_BYTES)
    engine.file_urls = True
    app[ENGINE_KEY] = engine
    app[FAULTS_KEY] = faults if faults is not None else FaultPlan()
    app[API_KEY] = api_key
    app[KNOWN_KEY] = None if known_endpoints is None else frozenset(known_endpoints)
    app[OUTPUT_TYPES_KEY] = dict(output_types or {})
    app[STREAMING_KEY] = frozenset(streaming)
    install(app, callbacks if callbacks is not None else CallbackSender(engine))
    prefix = base_path.rstrip("/")
    job = prefix + "/{endpoint_id}/{op}/{job_id}"
    app.router.add_post(prefix + "/{endpoint_id}/run", _run, name="run")
    app.router.add_post(prefix + "/{endpoint_id}/runsync", _runsync, name="runsync")
    app.router.add_get(job.replace("{op}", "status"), _status, name="status")
    app.router.add_get(job.replace("{op}", "stream"), _stream, name="stream")
    app.router.add_post(job.replace("{op}", "stream"), _stream)
    app.router.add_post(job.replace("{op}", "cancel"), _cancel, name="cancel")
    app.router.add_post(job.replace("{op}", "retry"), _retry, name="retry")
    app.router.add_get(prefix + "/{endpoint_id}/health", _health, name="health")
    app.router.add_get("/_files/{kind}/{seed}", serve_file, name="files")
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the fake RunPod API until interrupted."""
    parser = argparse.ArgumentParser(description="Fake RunPod serverless API (simulated jobs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--api-key", default=os.environ.get("FAKE_RUNPOD_API_KEY", "test-api-key"))
    parser.add_argument("--base-path", default="", help='e.g. "/v2" to mimic the real URL')
    parser.add_argument("--endpoint", action="append", help="known endpoint id (repeatable)")
    parser.add_argument("--queue-delay", type=float, default=0.5, help="seconds in queue")
    parser.add_argument("--run-time", type=float, default=2.0, help="seconds of simulated run")
    parser.add_argument("--id-suffix", default="-u1")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    add_output_type_option(parser, "endpoint", "an")
    parser.add_argument(
        "--streaming",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="an endpoint whose worker is a generator handler (/stream; repeatable)",
    )
    args = parser.parse_args(argv)
    app = create_fake_runpod_app(
        engine_of(args, id_suffix=args.id_suffix),
        args.api_key,
        args.endpoint,
        output_types=output_types(args.output_type),
        base_path=args.base_path,
        streaming=args.streaming,
    )
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
