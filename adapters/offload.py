"""The ``Offload`` port on a small pool of threads.

Checking inputs is pure Python: in a thread it still takes the interpreter lock, but the
interpreter hands the lock back to the event loop's thread every few milliseconds, so
other requests are served while a check runs. A check stops itself when its budget is
spent (``schema_guard.Budget``); ``limit_s`` also bounds the wait for a free thread.
The work runs in a copy of the caller's context (its log fields, the request's id).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tarsify.domain.errors import ValidationBudgetSpent

R = TypeVar("R")


class ThreadOffload:
    """Runs work on ``workers`` threads; waits at most ``limit_s`` for its result."""

    def __init__(self, workers: int, limit_s: float) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tarsify-check")
        self._limit_s = limit_s

    async def run(self, work: Callable[[], R]) -> R:
        """``work()`` on a thread of the pool."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        future = loop.run_in_executor(self._pool, context.run, work)
        try:
            return await asyncio.wait_for(future, self._limit_s)
        except TimeoutError:
            raise ValidationBudgetSpent() from None

    def close(self) -> None:
        """Stop the threads (work not started yet is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
