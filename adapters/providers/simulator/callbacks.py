"""Callbacks of the fake RunPod API (its ``webhook``): POST the status object when a job
finishes.

As RunPod does: one POST of the job's status object once it is final, expecting 200,
then at most two more tries ``retry_delay_s`` apart (10 s at RunPod). Unsigned: the
receiver authenticates the URL itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from adapters.providers.simulator.engine import SimulatorEngine

log = logging.getLogger("tarsify.simulator.callbacks")


@dataclass
class Delivery:
    """One callback to deliver: which job, where, and what happened so far."""

    endpoint_id: str
    job_id: str
    url: str
    attempts: int = 0
    delivered: bool = False
    statuses: list[int] = field(default_factory=list)


class CallbackSender:
    """Watches registered jobs and delivers their callbacks once they are final."""

    def __init__(
        self,
        engine: SimulatorEngine,
        *,
        tick_s: float = 0.05,
        retry_delay_s: float = 10.0,
        max_attempts: int = 3,
    ) -> None:
        self.engine = engine
        self.tick_s = tick_s
        self.retry_delay_s = retry_delay_s
        self.max_attempts = max_attempts
        self.deliveries: list[Delivery] = []
        self._next_try: dict[int, float] = {}

    def register(self, endpoint_id: str, job_id: str, url: str) -> None:
        """Call ``url`` back when the job finishes."""
        self.deliveries.append(Delivery(endpoint_id, job_id, url))

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Deliver due callbacks until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            for index, delivery in enumerate(self.deliveries):
                if delivery.delivered or delivery.attempts >= self.max_attempts:
                    continue
                if self._next_try.get(index, 0.0) > loop.time():
                    continue
                view = self.engine.get(delivery.endpoint_id, delivery.job_id)
                if view is None or not view.is_terminal:
                    continue
                await self._deliver(session, delivery, view.to_runpod())
                self._next_try[index] = loop.time() + self.retry_delay_s
            await asyncio.sleep(self.tick_s)

    async def _deliver(
        self, session: aiohttp.ClientSession, delivery: Delivery, body: dict[str, object]
    ) -> None:
        delivery.attempts += 1
        try:
            async with session.post(delivery.url, json=body) as response:
                delivery.statuses.append(response.status)
                delivery.delivered = response.status == 200
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.statuses.append(0)
            log.info("callback.failed", extra={"job_id": delivery.job_id, "error": str(exc)})


SENDER_KEY = web.AppKey("callback_sender", CallbackSender)


def install(app: web.Application, sender: CallbackSender) -> None:
    """Run ``sender`` for the life of ``app``."""
    app[SENDER_KEY] = sender
    run_for_life(app, sender.run)


def run_for_life(
    app: web.Application,
    run: Callable[[aiohttp.ClientSession], Coroutine[Any, Any, None]],
    timeout_s: float = 10.0,
) -> None:
    """Run ``run`` (a loop that posts with the session it is given) in a task for the
    life of ``app``: cancelled, and its session closed, on the app's cleanup."""

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            task = asyncio.create_task(run(session))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(lifecycle)
