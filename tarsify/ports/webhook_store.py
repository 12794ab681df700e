"""The consumer webhooks' store: subscriptions, events and deliveries, written inside a
``UnitOfWork`` (see ``tarsify.ports.repositories`` for what every repository promises)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from tarsify.domain.webhooks import ExecutionWebhook, WebhookDelivery, WebhookEvent, WebhookSecret


class WebhookRepository(Protocol):
    """Consumers' webhooks: what runs asked for, the events to deliver (an outbox), the
    attempts made, and each consumer's signing secret."""

    async def add_subscription(self, webhook: ExecutionWebhook) -> None:
        """Insert the webhook of a new execution."""
        ...

    async def get_subscription(self, execution_id: uuid.UUID) -> ExecutionWebhook | None:
        """The webhook the execution's run asked for, if any."""
        ...

    async def add_event(self, event: WebhookEvent) -> None:
        """Insert an event to deliver."""
        ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookEvent]:
        """Claim up to ``limit`` PENDING or RETRYING events whose next attempt is due,
        oldest first: each gets ``attempts + 1`` and ``next_attempt_at = lease_until``
        (so nobody else sends it before then). On PostgreSQL rows locked by another
        claimer are skipped (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def release(self, event: WebhookEvent, next_attempt_at: datetime) -> bool:
        """Give back a claimed attempt that was not made: ``attempts - 1`` and the next
        attempt at ``next_attempt_at``, only if ``attempts`` still equals the claim's
        (False otherwise: a later claim holds it)."""
        ...

    async def record(self, event: WebhookEvent, delivery: WebhookDelivery) -> None:
        """Insert the attempt; store the event's status, next attempt time and
        ``updated_at`` only if its ``attempts`` still equals this attempt's number (a
        later claim, after a lease ran out, decides the event's status instead).
        ``AlreadyExists`` when that attempt of the event is recorded already."""
        ...

    async def list_events(self, execution_id: uuid.UUID) -> list[WebhookEvent]:
        """The execution's events, oldest first."""
        ...

    async def list_deliveries(self, execution_id: uuid.UUID) -> list[WebhookDelivery]:
        """Every attempt made for the execution's events, oldest first."""
        ...

    async def get_secret(self, consumer_id: uuid.UUID) -> WebhookSecret | None:
        """The consumer's signing secret, if one was made."""
        ...

    async def add_secret(self, secret: WebhookSecret) -> None:
        """Insert; ``AlreadyExists`` when the consumer has one already."""
        ...

    async def replace_secret(self, consumer_id: uuid.UUID, secret: str, now: datetime) -> bool:
        """Replace the consumer's secret (``rotated_at = now``); False when there is none."""
        ...
