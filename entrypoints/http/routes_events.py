"""The event stream of an execution (``text/event-stream``).

Every event has an ``id`` (increasing per execution): ``event: output`` with one chunk of
a streaming model's output, ``event: progress`` with the worker's latest progress report,
``event: status`` with the execution's JSON at once and on every change; a comment line
as a heartbeat when nothing happened for a while, and the end of the stream after a
terminal status. ``Last-Event-ID`` resumes after that event (``ExecutionWatcher``). A
client that goes away ends the watch within half a second: nothing keeps running for
it; one that reads too slowly (a write waits longer than ``SLOW_READER_S``) is dropped
rather than buffered for. A consumer may keep ``MAX_STREAMS_PER_CONSUMER`` streams open
per server process; one more is 429 ERR_4291 until one ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Iterator

from aiohttp import web

from tarsify.domain.errors import NotFound, TarsifyError, TooManyOpenStreams
from tarsify.domain.jsonsafe import PUSHED_VALUE_MAX_BYTES
from tarsify.services.events import StreamEvent

from .encoding import dumps
from .envelope import error_body
from .middleware import REQUEST_ID_HEADER, REQUEST_ID_KEY, client_gone, mark_client_gone
from .params import path_id
from .routing import Auth, Caller, Route, services
from .schemas_executions import ExecutionView as ExecutionDocument
from .schemas_executions import execution_json

HEARTBEAT = b": heartbeat\n\n"
# Seconds a refused client is asked to wait: a stream ends at most this often when its
# execution is busy, and a finished one at once.
STREAM_RETRY_AFTER_S = 5
# A write of the stream that waits longer than this for the client to read drops it.
SLOW_READER_S = 10.0
LAST_EVENT_ID = "Last-Event-ID"


class StreamSlots:
    """How many event streams each consumer has open in this process, within a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[uuid.UUID] = Counter()

    @contextlib.contextmanager
    def taken(self, consumer_id: uuid.UUID) -> Iterator[None]:
        """Hold one of the consumer's slots; ``TooManyOpenStreams`` when none is free."""
        if self._open[consumer_id] >= self.limit:
            raise TooManyOpenStreams(self.limit, STREAM_RETRY_AFTER_S)
        self._open[consumer_id] += 1
        try:
            yield
        finally:
            self._open[consumer_id] -= 1
            if not self._open[consumer_id]:
                del self._open[consumer_id]


STREAM_SLOTS = web.AppKey("stream_slots", StreamSlots)
ExecutionStream = AsyncGenerator[StreamEvent | None, None]


async def _send(response: web.StreamResponse, request: web.Request, event: StreamEvent) -> None:
    if event.view is not None:
        data = dumps(await execution_json(request, event.view, PUSHED_VALUE_MAX_BYTES))
    else:
        value, files = event.value, services(request).files
        if event.kind == "output" and files is not None and value is not None:
            value = await files.render(path_id(request), value)  # a chunk's files: links
        data = dumps(value)
    head = b"id: %d\nevent: %s\ndata: " % (event.id, event.kind.encode())
    await _write(response, head + data + b"\n\n")


async def _write(response: web.StreamResponse, data: bytes) -> None:
    """Write, or drop a reader that does not take it within ``SLOW_READER_S``."""
    try:
        await asyncio.wait_for(response.write(data), SLOW_READER_S)
    except TimeoutError:
        raise ConnectionResetError("the client reads too slowly") from None


def last_event_id(request: web.Request) -> int | None:
    """The ``Last-Event-ID`` a reconnecting client sent (None: absent or not an id)."""
    raw = request.headers.get(LAST_EVENT_ID, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _stream_response(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Proxies that buffer (nginx) would hold the events back.
            "X-Accel-Buffering": "no",
        }
    )
    # The middleware sets it after the handler: too late for a response sent already.
    response.headers[REQUEST_ID_HEADER] = request.get(REQUEST_ID_KEY, "")
    return response


async def execution_events(request: web.Request, caller: Caller) -> web.StreamResponse:
    """Stream the states of an own execution until it is final."""
    owner = caller.account_id
    watcher = services(request).watcher
    if watcher is None:
        raise NotFound("Event streams are not available on this server")

    def gone() -> bool:
        return request.transport is None or request.transport.is_closing()

    with request.app[STREAM_SLOTS].taken(owner):
        watch = watcher.watch(owner, path_id(request), gone, last_event_id(request))
        return await _stream(request, watch)


async def _stream(request: web.Request, stream: ExecutionStream) -> web.StreamResponse:
    try:
        # Errors before the first event (unknown execution) are ordinary JSON answers.
        first = await anext(stream, None)
        response = _stream_response(request)
        try:
            await response.prepare(request)
            try:
                if first is None:
                    await _write(response, HEARTBEAT)
                else:
                    await _send(response, request, first)
                async for event in stream:
                    if event is None:
                        await _write(response, HEARTBEAT)
                    else:
                        await _send(response, request, event)
            except TarsifyError as exc:
                # The answer has started: the error becomes the stream's last event.
                body = dumps(error_body(exc.code, exc.message))
                await response.write(b"event: error\ndata: " + body + b"\n\n")
            await response.write_eof()
        except ConnectionError:
            if not client_gone(request):
                raise
            # The client left (a reset, a closed tab): logged as 499, not as an error.
            mark_client_gone(request)
        return response
    finally:
        await stream.aclose()


def install(app: web.Application, max_streams_per_consumer: int) -> None:
    """The app's count of open streams per consumer."""
    app[STREAM_SLOTS] = StreamSlots(max_streams_per_consumer)


ROUTES = [
    Route(
        "GET",
        "/api/consumer/executions/{id}/events",
        execution_events,
        "Stream an own execution's events (Server-Sent Events): output chunks, progress,"
        " status changes; Last-Event-ID resumes",
        Auth.CONSUMER,
        ExecutionDocument,
        tag="consumer",
        errors=("ERR_5505", "ERR_4291"),
        media_type="text/event-stream",
        operation_id="streamExecutionEvents",
    ),
]
