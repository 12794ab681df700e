"""fal's webhooks in the fake fal queue: a request submitted with ``fal_webhook`` is
announced to that URL once it completes.

As fal documents it: one POST of ``{"request_id", "gateway_request_id", "status",
"payload"}`` when the request is ``COMPLETED`` — ``status`` ``OK`` with the model's output
as ``payload``, or ``ERROR`` (a failed, timed out or cancelled request) with ``error``
and ``{"detail": <message>}`` as ``payload``. Best effort: a connection error, a timeout
or a 5xx answer is tried again ``retry_delay_s`` later, at most ``max_attempts`` times in
all; any other answer ends it. Unsigned here (fal signs its webhooks; the service's
callback URL carries its own credential).

The sender runs as one background task for the life of the fake's app (its cleanup
cancels it). ``FalFaultPlan.webhooks = False`` turns the calls off: deliveries that come
due then are recorded as skipped, never sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from adapters.providers.simulator.callbacks import run_for_life
from adapters.providers.simulator.fal_queue import (
    COMPLETED,
    RESULT_STATUS,
    FalQueue,
    FalRequest,
    State,
)

log = logging.getLogger("tarsify.simulator.fal_webhooks")

PENDING = "pending"
DELIVERED = "delivered"
GAVE_UP = "gave_up"
SKIPPED = "skipped"


@dataclass
class FalDelivery:
    """One webhook to call: for which request, where, and what happened so far."""

    request: FalRequest
    url: str
    base: str  # the origin the request's CDN links are made under
    outcome: str = PENDING
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)  # 0: no answer (connection error)
    body: dict[str, Any] | None = None
    next_try: float = 0.0


def webhook_body(queue: FalQueue, rec: FalRequest, state: State, base: str) -> dict[str, Any]:
    """fal's webhook body for a completed request."""
    body: dict[str, Any] = {"request_id": rec.request_id, "gateway_request_id": rec.request_id}
    if state.error_type is None:
        body.update(status="OK", payload=queue.output(rec, state, base))
    else:
        status = RESULT_STATUS.get(state.error_type, 500)
        body.update(
            status="ERROR",
            error=f"Invalid status code: {status}",
            payload={"detail": state.error},
        )
    return body


class FalWebhookSender:
    """Watches the requests that asked for a webhook and calls it once they complete."""

    def __init__(
        self,
        queue: FalQueue,
        *,
        tick_s: float = 0.02,
        retry_delay_s: float = 1.0,
        max_attempts: int = 3,
    ) -> None:
        self.queue = queue
        self.tick_s = tick_s
        self.retry_delay_s = retry_delay_s
        self.max_attempts = max_attempts
        self.deliveries: list[FalDelivery] = []

    def register(self, rec: FalRequest, base: str) -> None:
        """Call the request's ``webhook`` (if any) when it completes."""
        if rec.webhook is not None:
            self.deliveries.append(FalDelivery(rec, rec.webhook, base))

    def outcomes(self) -> dict[str, str]:
        """Each delivery's outcome by request id."""
        return {d.request.request_id: d.outcome for d in self.deliveries}

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Deliver due webhooks until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            for delivery in self.deliveries:
                if delivery.outcome == PENDING and delivery.next_try <= loop.time():
                    await self._step(session, delivery)
            await asyncio.sleep(self.tick_s)

    async def _step(self, session: aiohttp.ClientSession, delivery: FalDelivery) -> None:
        rec = delivery.request
        found = self.queue.find(rec.app_id, rec.request_id)
        if found is None:  # forgotten (expired) before it was announced
            delivery.outcome = GAVE_UP
            return
        _, state = found
        if state.status != COMPLETED:
            return
        if not self.queue.faults.webhooks:
            delivery.outcome = SKIPPED
            return
        if delivery.body is None:
            delivery.body = webhook_body(self.queue, rec, state, delivery.base)
        await self._post(session, delivery, delivery.body)

    async def _post(
        self, session: aiohttp.ClientSession, delivery: FalDelivery, body: dict[str, Any]
    ) -> None:
        delivery.attempts += 1
        try:
            async with session.post(delivery.url, json=body) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = 0
            log.info(
                "fal_webhook.failed",
                extra={"request_id": delivery.request.request_id, "error": str(exc)},
            )
        delivery.statuses.append(status)
        delivery.next_try = asyncio.get_running_loop().time() + self.retry_delay_s
        if 200 <= status < 300:
            delivery.outcome = DELIVERED
        elif (status != 0 and status < 500) or delivery.attempts >= self.max_attempts:
            delivery.outcome = GAVE_UP


WEBHOOKS_KEY = web.AppKey("fal_webhooks", FalWebhookSender)


def install(app: web.Application, sender: FalWebhookSender, timeout_s: float = 10.0) -> None:
    """Run ``sender`` for the life of ``app`` (``app[WEBHOOKS_KEY]``)."""
    app[WEBHOOKS_KEY] = sender
    run_for_life(app, sender.run, timeout_s)
