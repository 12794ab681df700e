"""fal's streaming requests (``fal.run``), held open by the process that sent them.

A stream lives as long as its connection: only this process (its ``holder``, a random
hex id per provider instance) can read, ask or stop it. Its job id says so and names fal's
request: ``{owner}/{app}/held/{holder}/{request_id}``; a held id of another holder, or one
this holder has forgotten, is unknown here (``ProviderJobNotFound``).

A task per stream reads its events into a buffer. The first event moves the job from
IN_QUEUE to IN_PROGRESS. Every event but the last is a partial output (a chunk, read once
with ``stream``); the last one, once the stream has ended cleanly, is the result
(COMPLETED, the ``output`` of ``status``). A break, malformed data, an app's error event,
a stream that ends without any event, no event for ``idle_s`` and more than
``max_unread`` chunks nobody read end it FAILED (the partial outputs stay readable).
``cancel`` drops the connection (fal stops the request): CANCELLED, unless it had ended.

``news`` announces a job soon after it got events or ended (at most once per
``coalesce_s`` per reader) and every ``heartbeat_s`` each job still held. An ended job is
forgotten ``retain_s`` after its end, or ``read_retain_s`` after it once its final status
was read; ``close`` drops every stream.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog

from adapters.providers.fal.sse import FalStream, FalStreamBroken
from tarsify.domain.errors import ProviderJobNotFound
from tarsify.ports.provider import HELD_HEARTBEAT_S, JobReport

log = structlog.get_logger(__name__)

IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED, CANCELLED = (
    "IN_QUEUE",
    "IN_PROGRESS",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
)
HELD = "held"
DEFAULT_IDLE_S = 120.0
MAX_UNREAD = 10_000
RETAIN_S = 600.0
READ_RETAIN_S = 60.0
COALESCE_S = 0.05
_NOTHING: Any = object()


def app_of(model_id: str) -> str:
    """The app a model id belongs to: ``fal-ai/flux/dev`` -> ``fal-ai/flux``."""
    return "/".join(model_id.strip("/").split("/")[:2])


def held_job_id(model_id: str, holder: str, request_id: str) -> str:
    """The job id of a held stream (see the module docstring)."""
    return f"{app_of(model_id)}/{HELD}/{holder}/{quote(request_id, safe='')}"


def holder_of(job_id: str) -> str | None:
    """The holder a held job id names, or None when it is no held stream's id."""
    parts = job_id.split("/")
    if len(parts) == 5 and parts[2] == HELD and all(parts):
        return parts[3]
    return None


@dataclass(eq=False)
class HeldJob:
    """One held stream and what it has told so far."""

    job_id: str
    endpoint_id: str
    stream: FalStream
    opened_at: float
    status: str = IN_QUEUE
    unread: deque[Any] = field(default_factory=deque)
    last: Any = _NOTHING  # the latest event: a chunk once another follows, else the result
    output: Any = None
    error: str | None = None
    ended_at: float | None = None
    final_read: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class _Reader:
    """One ``news`` iterator: the jobs to announce, and a wake-up."""

    def __init__(self) -> None:
        self.due: dict[str, str] = {}
        self.wake = asyncio.Event()


class HeldStreams:
    """The streams one provider instance holds (see the module docstring)."""

    def __init__(
        self,
        *,
        idle_s: float = DEFAULT_IDLE_S,
        heartbeat_s: float = HELD_HEARTBEAT_S,
        max_unread: int = MAX_UNREAD,
        retain_s: float = RETAIN_S,
        read_retain_s: float = READ_RETAIN_S,
        coalesce_s: float = COALESCE_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = secrets.token_hex(8)
        self.idle_s = idle_s
        self.heartbeat_s = heartbeat_s
        self.max_unread = max_unread
        self.retain_s = retain_s
        self.read_retain_s = read_retain_s
        self.coalesce_s = coalesce_s
        self._now = now
        self._jobs: dict[str, HeldJob] = {}
        self._readers: set[_Reader] = set()
        self._swept_at = now()

    def hold(self, endpoint_id: str, stream: FalStream) -> HeldJob:
        """Hold an open stream of ``endpoint_id`` and start reading it."""
        request_id = stream.request_id or uuid.uuid4().hex
        job_id = held_job_id(endpoint_id, self.holder, request_id)
        job = HeldJob(job_id, endpoint_id, stream, self._now())
        self._jobs[job_id] = job
        job.task = asyncio.create_task(self._read(job), name=f"fal-held-{request_id}")
        return job

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """True when ``job_id`` is a stream of ``endpoint_id``'s app held here."""
        return self._find(endpoint_id, job_id) is not None

    def job(self, endpoint_id: str, job_id: str) -> HeldJob:
        """The held job, or ``ProviderJobNotFound`` (another holder's, or forgotten)."""
        job = self._find(endpoint_id, job_id)
        if job is None:
            raise ProviderJobNotFound("the stream is not held by this process (or has ended)")
        return job

    def stream(self, job: HeldJob) -> JobReport:
        """The chunks not read yet (consumed) and the job's status."""
        chunks = tuple(job.unread)
        job.unread.clear()
        return JobReport(job_id=job.job_id, status=job.status, error=job.error, chunks=chunks)

    def status(self, job: HeldJob) -> JobReport:
        """The job's status, with its result once COMPLETED or its error once FAILED."""
        ms = None
        if job.ended_at is not None:
            job.final_read = True
            ms = max(0, round((job.ended_at - job.opened_at) * 1000))
        return JobReport(
            job_id=job.job_id,
            status=job.status,
            output=job.output,
            error=job.error,
            execution_time_ms=ms,
        )

    def cancel(self, job: HeldJob) -> JobReport:
        """Drop the connection: CANCELLED, unless the job had ended (it keeps its end)."""
        if job.ended_at is None:
            self._end(job, CANCELLED)
            job.stream.close()
            if job.task is not None:
                job.task.cancel()
        return self.status(job)

    async def news(self) -> AsyncIterator[tuple[str, str]]:
        """``(endpoint_id, job_id)`` of the jobs that got events or ended, and of every job
        held at each heartbeat; never ends."""
        reader = _Reader()
        self._readers.add(reader)
        loop = asyncio.get_running_loop()
        beat_at = loop.time() + self.heartbeat_s
        try:
            while True:
                wait = beat_at - loop.time()
                if not reader.due and wait > 0:
                    try:
                        async with asyncio.timeout(wait):
                            await reader.wake.wait()
                    except TimeoutError:
                        pass
                reader.wake.clear()
                due, reader.due = reader.due, {}
                if loop.time() >= beat_at:
                    self._forget_old()
                    due.update((j.job_id, j.endpoint_id) for j in list(self._jobs.values()))
                    beat_at = loop.time() + self.heartbeat_s
                for job_id, endpoint_id in due.items():
                    yield endpoint_id, job_id
                await asyncio.sleep(self.coalesce_s)
        finally:
            self._readers.discard(reader)

    async def close(self) -> None:
        """Drop every stream (shutdown); their jobs end FAILED."""
        tasks = []
        for job in list(self._jobs.values()):
            if job.ended_at is None:
                self._end(job, FAILED, "The service shut down while the stream was open")
            job.stream.close()
            if job.task is not None:
                job.task.cancel()
                tasks.append(job.task)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()

    def _find(self, endpoint_id: str, job_id: str) -> HeldJob | None:
        self._forget_old()
        job = self._jobs.get(job_id)
        if job is None or app_of(job.endpoint_id) != app_of(endpoint_id):
            return None
        return job

    async def _read(self, job: HeldJob) -> None:
        events = job.stream.events()
        try:
            while True:
                async with asyncio.timeout(self.idle_s):
                    event = await anext(events, _NOTHING)
                if event is _NOTHING:
                    break
                if job.ended_at is not None:
                    return
                if job.last is not _NOTHING:
                    job.unread.append(job.last)
                job.last, job.status = event, IN_PROGRESS
                if len(job.unread) > self.max_unread:
                    message = f"Over {self.max_unread} partial outputs were left unread"
                    self._end(job, FAILED, message)
                    return
                self._announce(job)
        except TimeoutError:
            self._broken(job, f"The stream sent no event for {self.idle_s:g}s")
            return
        except FalStreamBroken as exc:
            self._broken(job, str(exc) or "The stream broke off")
            return
        except Exception:  # never leave a held job without an end
            log.exception("fal.held_stream_failed", job_id=job.job_id)
            self._broken(job, "The stream failed")
            return
        finally:
            await events.aclose()
            job.stream.close()
        if job.last is _NOTHING:
            self._end(job, FAILED, "The stream ended without a result")
        else:
            job.output, job.last = job.last, _NOTHING
            self._end(job, COMPLETED)

    def _broken(self, job: HeldJob, message: str) -> None:
        """End a stream that failed; its latest event was a partial output."""
        if job.last is not _NOTHING and job.ended_at is None:
            job.unread.append(job.last)
            job.last = _NOTHING
        # An app's error may embed a Python traceback: never pass one on.
        message = message.split("Traceback (most recent call last)")[0].strip()
        self._end(job, FAILED, message[:1000] or "The stream failed")

    def _end(self, job: HeldJob, status: str, error: str | None = None) -> None:
        if job.ended_at is not None:
            return
        job.status, job.error, job.ended_at = status, error, self._now()
        job.ended.set()
        log.info("fal.held_stream_ended", job_id=job.job_id, status=status, error=error)
        self._announce(job)

    def _announce(self, job: HeldJob) -> None:
        for reader in self._readers:
            reader.due[job.job_id] = job.endpoint_id
            reader.wake.set()

    def _forget_old(self) -> None:
        """Forget the jobs whose time is up, at most once a second."""
        now = self._now()
        if now - self._swept_at < 1.0:
            return
        self._swept_at = now
        for job_id, job in list(self._jobs.items()):
            if job.ended_at is None:
                continue
            age = now - job.ended_at
            if age > self.retain_s or (job.final_read and age > self.read_retain_s):
                del self._jobs[job_id]
