"""The delivery worker: sends due webhook events, signed, and records every attempt.

Any number of processes run it on one database. An attempt is *claimed* first — the
event's attempt counter moves on and its next attempt is pushed past a lease, in one
committed transaction that skips rows another claimer holds — and only then sent, so
two processes never send the same attempt. A process that dies after claiming loses
nothing: once the lease is over, the next attempt goes out (at least once). A failed
attempt is retried after the next delay of the schedule; after the last, the event is
FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from tarsify.domain.models import new_id
from tarsify.domain.webhook_rules import sign
from tarsify.domain.webhooks import (
    DEFAULT_RETRY_DELAYS_S,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    retry_delay,
    short_error,
)
from tarsify.ports import (
    Clock,
    ExecutionRenderer,
    SendResult,
    UnitOfWorkFactory,
    WebhookSender,
)
from tarsify.services.webhooks import stored_secret

log = logging.getLogger("tarsify.webhooks")
USER_AGENT = "Tarsify-Webhooks/1.0"


@dataclass(slots=True, frozen=True)
class DeliverySettings:
    """Retry schedule (seconds after each failed attempt), how long a claimed attempt is
    reserved for its sender, and how many events one pass claims."""

    retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S
    lease_s: float = 60.0
    batch: int = 20


class WebhookDeliverer:
    """Claims due events, sends them and records the outcome."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        sender: WebhookSender,
        renderer: ExecutionRenderer,
        settings: DeliverySettings | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sender = sender
        self._render = renderer
        self._settings = settings or DeliverySettings()
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        """One pass: claim due events and attempt each; returns how many were attempted."""
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._settings.lease_s)
        async with self._uow() as uow:
            events = await uow.webhooks.claim_due(now, lease_until, self._settings.batch)
            await uow.commit()
        if events:
            await asyncio.gather(*(self._attempt(event) for event in events))
        return len(events)

    async def run_forever(self, interval_s: float) -> None:
        """Pass after pass, until ``stop``; a full batch is followed at once by the next."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                attempted = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a pass that failed (database down) is retried later
                log.exception("webhooks.pass_failed")
                attempted = 0
            if attempted < self._settings.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval_s)

    def stop(self) -> None:
        """End ``run_forever`` once the pass under way is over: every attempt it claimed
        is sent and recorded, so a stopping process sends nothing twice."""
        self._stopping.set()

    async def _attempt(self, event: WebhookEvent) -> None:
        try:
            body, secret = await self._prepare(event)
        except Exception as exc:
            # The attempt is claimed: it counts, and it is recorded as failed.
            log.exception("webhooks.prepare_failed", extra={"event_id": str(event.id)})
            result = SendResult(None, f"could not prepare the request: {type(exc).__name__}", 0)
        else:
            timestamp = int(self._clock.now().timestamp())
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": event.webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, event.webhook_id, timestamp, body),
            }
            result = await self._sender.send(event.url, headers, body)
        try:
            await self._record(event, result)
        except Exception:
            # Unrecorded, the attempt is made again once its lease is over.
            log.exception("webhooks.record_failed", extra={"event_id": str(event.id)})

    async def _prepare(self, event: WebhookEvent) -> tuple[bytes, str]:
        """The body (the execution as its consumer reads it now) and the signing secret."""
        async with self._uow() as uow:
            view = await uow.executions.get_view(event.execution_id)
        if view is None:
            raise LookupError("the execution no longer exists")
        data = await self._render(view)
        secret = await stored_secret(self._uow, self._clock, event.consumer_id)
        head = json.dumps({"type": event.event_type.value, "timestamp": _iso(event)})
        return head[:-1].encode() + b',"data":' + data + b"}", secret

    async def _record(self, event: WebhookEvent, result: SendResult) -> None:
        now = self._clock.now()
        next_at = None
        if result.delivered:
            status = DeliveryStatus.DELIVERED
        else:
            delay = retry_delay(event.attempts, self._settings.retry_delays_s)
            status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.RETRYING
            next_at = None if delay is None else now + timedelta(seconds=delay)
        error = None if result.error is None else short_error(result.error)
        delivery = WebhookDelivery(
            new_id(),
            event.id,
            event.execution_id,
            event.attempts,
            status,
            result.status,
            error,
            result.duration_ms,
            now,
            next_at,
        )
        event.status, event.next_attempt_at, event.updated_at = status, next_at, now
        async with self._uow() as uow:
            await uow.webhooks.record(event, delivery)
            await uow.commit()
        log.info(
            "webhooks.attempt",
            extra={
                "event_id": str(event.id),
                "webhook_id": event.webhook_id,
                "attempt": event.attempts,
                "status": status.value,
                "response_status": result.status,
            },
        )


def _iso(event: WebhookEvent) -> str:
    at = event.created_at
    # Rows read back from SQLite are naive; every stored instant is UTC.
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()
