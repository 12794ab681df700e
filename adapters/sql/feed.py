"""The execution feed on PostgreSQL: NOTIFY from the database, LISTEN once per process.

A trigger (migrations 0008, 0010 and 0016) runs ``pg_notify`` for every UPDATE that moves an
execution's version on and changes something its consumer is shown (``SHOWN_COLUMNS``;
the submit's claim is not announced), inside the writing transaction, so PostgreSQL
delivers it when (and only if) the change commits, to every process listening —
whichever statement made the change, with or without a transaction around it.
``announce`` has nothing left to do. Each process keeps one dedicated connection that
LISTENs and hands what it hears to its own watchers. While that connection is down,
watchers fall back to polling, and they all look again once it is back (nothing
announced meanwhile is missed for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from adapters.fanout import Fanout

log = logging.getLogger("tarsify.feed")
CHANNEL = "tarsify_executions"
# The columns behind what an execution's document shows that a change can move (the
# rest of it is set when the execution is created). Migration 0019 spells the same.
SHOWN_COLUMNS = (
    "status",
    "output_payload",
    "error_code",
    "error_message",
    "pending_reason",
    "started_at",
    "completed_at",
    "execution_time_ms",
    "queue_time_ms",
    "chunks",
    "progress",
    "logs",
    "queue_position",
)
KEEPALIVE_S = 30.0


def listen_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN (for asyncpg) of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresFeed(Fanout):
    """LISTEN/NOTIFY fan-out; ``start()`` and ``close()`` bracket its connection."""

    def __init__(self, url: str, *, fallback_poll_s: float = 0.25, retry_s: float = 1.0) -> None:
        super().__init__(poll_s=fallback_poll_s)
        self._dsn = listen_dsn(url)
        self._fallback_poll_s = fallback_poll_s
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def announce(self, execution_id: uuid.UUID, version: int) -> None:
        """Nothing: the database's trigger announced the change with the change."""

    def start(self) -> None:
        """Open the listening connection in the background (and keep it open)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="tarsify-feed-listen")

    async def close(self) -> None:
        """Stop listening."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # asyncpg and OSError: connect or keepalive failed
                log.warning("feed.listen_failed", extra={"error": type(exc).__name__})
            self.listening.clear()
            self.poll_s = self._fallback_poll_s
            self.wake_all()
            await asyncio.sleep(self._retry_s)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _c: lost.set())
            await connection.add_listener(CHANNEL, self._heard)
            self.poll_s = None
            self.listening.set()
            self.wake_all()  # whatever changed while nobody listened
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_S)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=5)
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        execution_id, _, version = payload.partition(":")
        try:
            self.wake(uuid.UUID(execution_id), int(version))
        except ValueError:
            log.warning("feed.bad_payload")
