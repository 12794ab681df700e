"""The short lane: pooled asyncpg connections for statements that need no transaction.

Most units of work on the hot paths are one plain read (a status, a page) or one write
that commits as it runs (a whole change with nothing to follow, ``adapters.sql.db``).
They run on the driver connection directly (``Query``), but checking a connection out of
SQLAlchemy's pool and back costs two greenlet switches, the pool's events and, under
load, a wait on its queue with a timeout: together more than the query. The lane hands
its connections out from a list, in the event loop's own thread, with nothing else on
the way.

The lane's connections belong to the engine's pool (``LanePool``): it checks them out
once and keeps them, so a process still holds at most ``pool_size`` connections. It
takes at most ``lane_size(pool_size)`` of them, leaving the rest to units of work that
open a transaction; a unit of work gives its lane connection back before it waits for
one of those, so the two never wait on each other. A connection whose statement was cut
off (a cancelled task, a lost server) is invalidated instead of reused; one idle for
longer than ``PING_AFTER_IDLE_S`` is pinged first, as the pool's own checkout does. When
one dies under a statement (``lost``), the idle ones are pinged before their next use and
the pool replaces its own at their next checkout.
``engine.dispose()`` gives the idle ones back before the pool closes its connections.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from asyncpg.exceptions import InternalClientError
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import greenlet_spawn

# A connection used this recently is known to be alive; one idle longer is pinged before
# use, by the pool's checkout (engine.py) and by the lane alike.
PING_AFTER_IDLE_S = 1.0


def lane_size(pool_size: int) -> int:
    """Connections the lane may hold: all but a quarter of the pool (at least one)
    kept for transactions; 0 (no lane) for a pool of one."""
    return pool_size - max(1, pool_size // 4)


class Held:
    """One connection the lane took from the pool."""

    __slots__ = ("driver", "fairy", "used_at")

    def __init__(self, fairy: Any) -> None:
        self.fairy = fairy
        self.driver: asyncpg.Connection = fairy.driver_connection
        self.used_at = time.monotonic()


class Lane:
    """Up to ``size`` connections of ``pool`` for single statements outside a transaction."""

    def __init__(self, pool: AsyncAdaptedQueuePool, size: int) -> None:
        self._pool = pool
        self.size = size
        self._idle: list[Held] = []
        self._waiters: collections.deque[asyncio.Future[Held]] = collections.deque()
        self.taken = 0
        self.closed = False
        self._tasks: set[asyncio.Task[Held]] = set()

    @property
    def idle(self) -> int:
        """Connections held and not in use."""
        return len(self._idle)

    async def acquire(self) -> Held:
        """An idle connection (pinged if idle a while), a new one while fewer than
        ``size`` are taken, or else the next one given back."""
        while self._idle:
            held = self._idle.pop()
            if held.driver.is_closed():
                self._drop(held)
                continue
            recent = time.monotonic() - held.used_at <= PING_AFTER_IDLE_S
            if recent or await self._answers(held):
                return held
        if self.taken < self.size:
            return await self._take()
        waiter: asyncio.Future[Held] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed over as this task was cancelled
            raise

    async def _answers(self, held: Held) -> bool:
        try:
            await held.driver.fetchrow(";")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, InternalClientError):
            self._drop(held)
            return False
        except BaseException:
            self._drop(held)
            raise
        return True

    async def _take(self) -> Held:
        self.taken += 1
        try:
            fairy = await greenlet_spawn(self._pool.connect)
        except BaseException:
            self.taken -= 1
            self._hand_on()
            raise
        return Held(fairy)

    def release(self, held: Held, *, broken: bool = False) -> None:
        """Give ``held`` back; ``broken`` (its statement was cut off) invalidates it."""
        if broken or self.closed or held.driver.is_closed():
            self._drop(held)
            return
        held.used_at = time.monotonic()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return
        self._idle.append(held)

    def lost(self, held: Held, exc: BaseException) -> None:
        """``held`` died under a statement (its server connection ended): drop it, have
        the pool replace the connections it holds at their next checkout (as SQLAlchemy
        does on a disconnect: a restart or failover ends them all), and ping the idle
        ones of the lane before their next use."""
        self._pool._invalidate(held.fairy, exc, _checkin=False)
        self._drop(held)
        for idle in self._idle:
            idle.used_at = 0.0

    def _drop(self, held: Held) -> None:
        """Close ``held`` for good (outside a greenlet the driver's socket is closed at
        once) and let a waiter take a new connection in its place."""
        self.taken -= 1
        held.fairy.invalidate()
        self._hand_on()

    def _hand_on(self) -> None:
        while self._waiters and self.taken < self.size:
            waiter = self._waiters.popleft()
            if not waiter.done():
                task = asyncio.ensure_future(self._take())
                self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(_settle(waiter, self))
                return

    def give_back(self) -> None:
        """Return the idle connections to the pool and stop keeping any (on dispose)."""
        self.closed = True
        idle, self._idle = self._idle, []
        for held in idle:
            self.taken -= 1
            held.fairy.close()


def _settle(waiter: asyncio.Future[Held], lane: Lane) -> Callable[[asyncio.Task[Held]], None]:
    """Hand a connection taken for ``waiter`` to it (or back, if it stopped waiting)."""

    def done(task: asyncio.Task[Held]) -> None:
        if task.cancelled():
            waiter.cancel()
            return
        error = task.exception()
        if error is not None:
            if not waiter.done():
                waiter.set_exception(error)
        elif waiter.done():
            lane.release(task.result())
        else:
            waiter.set_result(task.result())

    return done


class LanePool(AsyncAdaptedQueuePool):
    """The engine's pool, with the lane that keeps some of its connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = lane_size(self.size())
        self.lane: Lane | None = Lane(self, size) if size > 0 else None

    def dispose(self) -> None:
        """Close every pooled connection, the lane's idle ones included."""
        if self.lane is not None:
            self.lane.give_back()
        super().dispose()
