"""In-memory webhook repository, with the claims and conditional updates of the SQL one."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import datetime

from adapters.memory.repositories import Repository
from tarsify.domain.webhooks import (
    DeliveryStatus,
    ExecutionWebhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookSecret,
)

_DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
EVENTS, DELIVERIES, SECRETS = "webhook_events", "webhook_deliveries", "webhook_secrets"


def _is_due(event: WebhookEvent, now: datetime) -> bool:
    return (
        event.status in _DUE and event.next_attempt_at is not None and event.next_attempt_at <= now
    )


class MemoryWebhookRepository(Repository):
    """Webhook rows in four tables of the memory store."""

    table = "execution_webhooks"

    async def add_subscription(self, webhook: ExecutionWebhook) -> None:
        """Insert the webhook of a new execution."""
        await self._add(webhook)

    async def get_subscription(self, execution_id: uuid.UUID) -> ExecutionWebhook | None:
        """The webhook the execution's run asked for."""
        return self._get(execution_id)  # type: ignore[no-any-return]

    async def add_event(self, event: WebhookEvent) -> None:
        """Insert an event to deliver."""
        self._tx.put(EVENTS, event, insert=True)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookEvent]:
        """Claim due events (skipping rows another unit of work holds), longest waiting first."""
        self._tx.check()
        due = [
            e
            for e in self._tx.rows(EVENTS).values()
            if _is_due(e, now) and not self._tx.is_locked_by_other(EVENTS, e.id)
        ]
        due.sort(key=lambda e: (e.next_attempt_at, e.id))
        claimed = []
        for event in due[:limit]:
            await self._tx.lock(EVENTS, event.id)
            current = self._tx.row(EVENTS, event.id)
            if not _is_due(current, now):
                continue
            changed = dataclasses.replace(
                current, attempts=current.attempts + 1, next_attempt_at=lease_until, updated_at=now
            )
            self._tx.put(EVENTS, changed, insert=False)
            claimed.append(copy.deepcopy(changed))
        claimed.sort(key=lambda e: (e.created_at, e.id))
        return claimed

    async def release(self, event: WebhookEvent, next_attempt_at: datetime) -> bool:
        """Give back a claimed attempt that was not made (unless claimed again since)."""
        await self._tx.lock(EVENTS, event.id)
        current = self._tx.row(EVENTS, event.id)
        if current is None or current.attempts != event.attempts:
            return False
        changed = dataclasses.replace(
            current, attempts=current.attempts - 1, next_attempt_at=next_attempt_at
        )
        self._tx.put(EVENTS, changed, insert=False)
        return True

    async def record(self, event: WebhookEvent, delivery: WebhookDelivery) -> None:
        """Insert the attempt; update the event unless a later attempt was claimed."""
        self._tx.put(DELIVERIES, delivery, insert=True)
        await self._tx.lock(EVENTS, event.id)
        current = self._tx.row(EVENTS, event.id)
        if current is not None and current.attempts == delivery.attempt:
            changed = dataclasses.replace(
                current,
                status=event.status,
                next_attempt_at=event.next_attempt_at,
                updated_at=event.updated_at,
            )
            self._tx.put(EVENTS, changed, insert=False)

    async def list_events(self, execution_id: uuid.UUID) -> list[WebhookEvent]:
        """The execution's events, oldest first."""
        self._tx.check()
        rows = [e for e in self._tx.rows(EVENTS).values() if e.execution_id == execution_id]
        return [copy.deepcopy(e) for e in sorted(rows, key=lambda e: (e.created_at, e.id))]

    async def list_deliveries(self, execution_id: uuid.UUID) -> list[WebhookDelivery]:
        """Every attempt for the execution's events, oldest first."""
        self._tx.check()
        rows = [d for d in self._tx.rows(DELIVERIES).values() if d.execution_id == execution_id]
        return [copy.deepcopy(d) for d in sorted(rows, key=lambda d: (d.created_at, d.attempt))]

    async def get_secret(self, consumer_id: uuid.UUID) -> WebhookSecret | None:
        """The consumer's signing secret."""
        self._tx.check()
        found = next(
            (s for s in self._tx.rows(SECRETS).values() if s.consumer_id == consumer_id), None
        )
        return copy.deepcopy(found)

    async def add_secret(self, secret: WebhookSecret) -> None:
        """Insert; ``AlreadyExists`` when the consumer has one."""
        self._tx.put(SECRETS, secret, insert=True)

    async def replace_secret(self, consumer_id: uuid.UUID, secret: str, now: datetime) -> bool:
        """Replace the consumer's secret."""
        current = await self.get_secret(consumer_id)
        if current is None:
            return False
        await self._tx.lock(SECRETS, current.id)
        current = self._tx.row(SECRETS, current.id)
        self._tx.put(
            SECRETS, dataclasses.replace(current, secret=secret, rotated_at=now), insert=False
        )
        return True
