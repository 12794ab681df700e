"""The fake of fal's streaming apps: ``POST https://fal.run/{owner}/{app}[/{path}]/stream``.

As fal documents it: the model's input is the JSON body (as a queue submit), with
``Authorization: Key <key>``; no queue, no request URLs, no status, no cancel, no
retries: the request lives as long as the connection. The answer is Server-Sent Events,
each ``data: <json>`` an object whose shape depends on the app, the last one the final
result; then the stream ends. The response names the request in ``x-fal-request-id``.

Here a stream is a simulator engine job (its timing follows the engine's clock and
knobs), read every ``POLL_S`` and sent as it produces events: a text (or JSON) model sends
each word of a story as ``{"delta": word}`` and finally ``{"output": the whole text}``;
an image model sends ``{"progress": 0.3, "message": "Step 3/10"}`` as it runs and finally
its output in fal's shape (media on the fake's expiring CDN URLs). A job that fails ends
with an ``event: error`` whose data is ``{"detail": message}``. A client that goes away
stops the job. Errors before the stream are fal's JSON ``{"detail": ...}``: 404 for an
unknown model or one whose app has no ``/stream`` (``FalFaultPlan.without_stream``), 422
for a body that is no JSON object, and the route faults of ``stream``.
``FalFaultPlan.stream_break_after`` cuts the connection after that many events.
``app[STREAMS_KEY]`` records every stream: its events sent and how it ended.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.providers.simulator.engine import COMPLETED, JobView
from adapters.providers.simulator.fal_queue import QUEUE_KEY, FalQueue, FalRequest
from adapters.providers.simulator.streams import PROGRESS_TYPES
from tarsify.domain.models import OutputType

POLL_S = 0.05


@dataclass(slots=True)
class StreamRecord:
    """One stream the fake served: the request, the events sent, how it ended
    (``finished``: the final event or an error event was sent; ``broken``: the fake cut
    it; ``disconnected``: the client went away first)."""

    request_id: str
    model_id: str
    events: list[Any] = field(default_factory=list)
    finished: bool = False
    broken: bool = False
    disconnected: bool = False


@dataclass(slots=True)
class FalStreams:
    """Every stream the fake served, oldest first."""

    served: list[StreamRecord] = field(default_factory=list)

    def of(self, request_id: str) -> StreamRecord | None:
        """The stream of ``request_id``, if the fake served one."""
        return next((s for s in self.served if s.request_id == request_id), None)


STREAMS_KEY = web.AppKey("fal_streams", FalStreams)


def _detail(status: int, detail: Any) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


def _sse(event: Any, kind: str | None = None) -> bytes:
    head = f"event: {kind}\n" if kind else ""
    return f"{head}data: {json.dumps(event)}\n\n".encode()


async def _input(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class _Events:
    """The events of one request's engine job, as they come."""

    def __init__(self, queue: FalQueue, rec: FalRequest, base: str) -> None:
        self.queue, self.rec, self.base = queue, rec, base
        self.words: list[str] = []
        self.percent: int | None = None

    def next(self) -> tuple[list[tuple[Any, str | None]], bool]:
        """The events produced since the last call, and whether the job has ended."""
        read = self.queue.engine.stream(self.rec.app_id, self.rec.request_id)
        if read is None:
            return [({"detail": "Request expired"}, "error")], True
        view, chunks = read
        events: list[tuple[Any, str | None]] = []
        for chunk in chunks:
            if isinstance(chunk, str):
                self.words.append(chunk)
                events.append(({"delta": chunk}, None))
            else:
                events.append((chunk, None))
        percent = view.progress.get("percent") if isinstance(view.progress, dict) else None
        if isinstance(percent, int) and percent != self.percent and percent > 0:
            self.percent = percent
            step = {"progress": percent / 100, "message": f"Step {percent // 10}/10"}
            events.append((step, None))
        if view.is_terminal:
            events.append(self._last(view))
        return events, view.is_terminal

    def _last(self, view: JobView) -> tuple[Any, str | None]:
        if view.status != COMPLETED:
            state = self.queue.state(self.rec, view)
            return {"detail": state.error or "Request failed"}, "error"
        if self.words:
            return {"output": "".join(self.words).strip(), "simulated": True}, None
        state = self.queue.state(self.rec, view)
        return self.queue.output(self.rec, state, self.base), None


async def stream_request(request: web.Request) -> web.StreamResponse:
    """``POST /{owner}/{app}[/{path}]/stream``: the request's events as they come."""
    queue = request.app[QUEUE_KEY]
    info = request.match_info
    model_id = f"{info['owner']}/{info['app']}{info['path']}"
    if not queue.knows(model_id):
        return _detail(404, f"Application '{model_id}' not found")
    if model_id in queue.faults.without_stream:
        return _detail(404, f"Application '{model_id}' has no streaming endpoint")
    body = await _input(request)
    if body is None:
        msg = [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
        return _detail(422, msg)
    output_type = queue.output_types.get(model_id, OutputType.JSON)
    rec = queue.submit(model_id, body, streaming=output_type not in PROGRESS_TYPES)
    record = StreamRecord(rec.request_id, model_id)
    request.app[STREAMS_KEY].served.append(record)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "x-fal-request-id": rec.request_id,
        }
    )
    await response.prepare(request)
    events = _Events(queue, rec, str(request.url.origin()))
    try:
        while True:
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("client went away")
            batch, ended = events.next()
            for event, kind in batch:
                cut = queue.faults.stream_break_after
                if cut is not None and len(record.events) >= cut:
                    record.broken = True
                    queue.cancel(rec)
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                await response.write(_sse(event, kind))
                record.events.append(event)
            if ended:
                record.finished = True
                break
            await asyncio.sleep(POLL_S)
    except (ConnectionResetError, asyncio.CancelledError):
        record.disconnected = True
        queue.cancel(rec)
        raise
    await response.write_eof()
    return response


def install(app: web.Application) -> None:
    """Add the stream route (before the submit route, which would take its path)."""
    app[STREAMS_KEY] = FalStreams()
    app.router.add_post("/{owner}/{app}{path:(?:/.+?)?}/stream", stream_request, name="stream")
