"""Watching one execution: its events from the start or after a given id, then every new
one, until it is final.

An execution's events (``StreamEvent``) are its stored chunks (``output``), the changes of
its worker's progress (``progress``), the lines its job's log gained (``logs``) and the
changes of what its document shows (``status``), each with the id
``tarsify.domain.streams`` gives it. A change of both progress and logs is one ``status``
event (one id, one event). ``ExecutionWatcher.watch`` sends the
stored chunks after the id it starts from (all of them for a new stream), then the
execution's state, then waits on the ``ExecutionFeed`` and reads again when it may have
changed: new chunks first, then the new state. Changes closer together than a read are
seen as one (the newest state), never out of order. While a streaming execution runs,
the watcher also reads its job's stream every ``stream_s`` (one reader at a time,
whichever process: ``ExecutionService.read_stream``). Chunks are read from storage a page
at a time: a stream holds at most a page of them, however many there are.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from tarsify.domain.execution import ExecutionView
from tarsify.domain.streams import CHUNK_PAGE
from tarsify.domain.worker_logs import new_lines
from tarsify.ports.feed import ExecutionFeed
from tarsify.services.engine.executions import ExecutionService

CATCH_UP_STEP_S = 0.02


@dataclass(slots=True, frozen=True)
class WatchSettings:
    """A heartbeat after ``heartbeat_s`` of quiet; whether the watcher left is checked
    every ``check_s``; an announced version is awaited at most ``catch_up_s``; with no
    announcement for ``refresh_s`` the execution is read as a status poll does (which
    asks the provider when due), so a stream moves on even where no reconciler runs; a
    running streaming execution's job is read every ``stream_s``."""

    heartbeat_s: float = 15.0
    check_s: float = 0.5
    catch_up_s: float = 1.0
    refresh_s: float = 1.0
    stream_s: float = 0.25


@dataclass(slots=True, frozen=True)
class StreamEvent:
    """One event: ``status`` (``view``), ``output`` (``value``: one chunk), ``progress``
    (``value``: the latest report) or ``logs`` (``value``: the new lines), with its
    ``id``."""

    kind: str
    id: int
    view: ExecutionView | None = None
    value: Any = None


class ExecutionWatcher:
    """Streams the events of a consumer's execution."""

    def __init__(
        self,
        executions: ExecutionService,
        feed: ExecutionFeed,
        settings: WatchSettings | None = None,
    ) -> None:
        self._executions = executions
        self._feed = feed
        self._settings = settings or WatchSettings()

    async def watch(
        self,
        consumer_id: uuid.UUID,
        execution_id: uuid.UUID,
        gone: Callable[[], bool] = lambda: False,
        after: int | None = None,
    ) -> AsyncGenerator[StreamEvent | None, None]:
        """The events after ``after`` (from the start when None; ``ExecutionNotFound``
        if the execution is not the consumer's, before any event), then each new one, and
        None as a heartbeat after a quiet ``heartbeat_s``. Ends after a terminal state, or
        soon after ``gone()`` becomes true. A new stream starts with the stored chunks,
        then a ``status`` event; a resumed one with the chunks after ``after``, then the
        state if it is newer than ``after``."""
        s = self._settings
        async with self._feed.subscribe(execution_id) as subscription:
            view = await self._executions.get(consumer_id, execution_id)
            sent = _Sent(after or 0)
            told = False
            async for event in self._catch_up(view, sent, resumed=after is not None):
                told = True
                yield event
            if not told:
                yield None  # resumed with nothing new: the stream starts all the same
            streams = not view.execution.is_terminal and await self._executions.streams_output(
                view.execution
            )
            loop = asyncio.get_running_loop()
            quiet_since = refreshed = streamed = loop.time()
            while not view.execution.is_terminal and not gone():
                left = s.heartbeat_s - (loop.time() - quiet_since)
                if left <= 0:
                    yield None
                    quiet_since = loop.time()
                    continue
                if streams and loop.time() - streamed >= s.stream_s:
                    streamed = loop.time()
                    await self._executions.read_stream(view.execution)
                step = min(left, s.check_s, s.stream_s if streams else s.check_s)
                woke = await subscription.wait(step)
                if woke is None:
                    if loop.time() - refreshed < s.refresh_s:
                        continue
                    woke = view.execution.version
                refreshed = loop.time()
                newer = await self._read(consumer_id, execution_id, woke)
                if newer.execution.event_id > view.execution.event_id:
                    view = newer
                    async for event in self._catch_up(view, sent, resumed=False):
                        yield event
                        quiet_since = loop.time()

    async def _catch_up(
        self, view: ExecutionView, sent: _Sent, *, resumed: bool
    ) -> AsyncGenerator[StreamEvent, None]:
        """The chunks up to ``view`` not sent yet, then its state if it is news (a
        resumed stream always gets the state, if newer than what the client saw)."""
        execution = view.execution
        last = execution.event_id
        while sent.id < last - 1 and execution.chunks:
            page = await self._executions.chunks(execution.id, sent.id, CHUNK_PAGE)
            page = [c for c in page if c.event_id < last]
            if not page:
                break
            for chunk in page:
                sent.id = chunk.event_id
                yield StreamEvent("output", chunk.event_id, value=chunk.value)
        if last <= sent.id:
            return
        sent.id = last
        progressed = sent.progress != execution.progress
        logged = sent.logs != execution.logs
        before = sent.logs
        sent.progress, sent.logs = execution.progress, execution.logs
        if (
            resumed
            or sent.state is None
            or sent.state != execution.shown_state()
            or (progressed and logged)
        ):
            sent.state = execution.shown_state()
            yield StreamEvent("status", last, view=view)
        elif progressed:
            yield StreamEvent("progress", last, value=execution.progress)
        elif logged:
            yield StreamEvent("logs", last, value=new_lines(before, execution.logs))

    async def _read(
        self, consumer_id: uuid.UUID, execution_id: uuid.UUID, announced: int
    ) -> ExecutionView:
        """The execution, read again until it shows the announced version (an
        announcement may come just before its transaction commits) or ``catch_up_s``."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._settings.catch_up_s
        view = await self._executions.get(consumer_id, execution_id)
        while view.execution.version < announced and loop.time() < give_up:
            await asyncio.sleep(CATCH_UP_STEP_S)
            view = await self._executions.get(consumer_id, execution_id)
        return view


@dataclass(slots=True)
class _Sent:
    """What a stream has sent: the last event id, the last state, progress and logs
    shown."""

    id: int
    state: tuple[Any, ...] | None = None
    progress: Any = None
    logs: Any = None
