"""Consumers' webhooks: a run's request checked, the signing secret and the log.

The outbox events are written in the engine's transactions by ``WebhookListener``
(``tarsify.services.engine.webhook_listener``), from the webhook the run's
``RunRequest`` carried.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from tarsify.domain.errors import AlreadyExists, ExecutionNotFound
from tarsify.domain.models import new_id
from tarsify.domain.policies import visible_execution
from tarsify.domain.webhook_rules import new_secret, shown_secret
from tarsify.domain.webhooks import (
    DeliveryLine,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookFilter,
    WebhookRequest,
    WebhookSecret,
)
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.ports.webhooks import WebhookDestinations


class ConsumerWebhooks:
    """What consumers do with webhooks: ask for one, their secret, an execution's log."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, destinations: WebhookDestinations
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._destinations = destinations

    async def request(self, url: str, events: Sequence[WebhookFilter] | None) -> WebhookRequest:
        """A run's webhook, checked (``InvalidBody`` for a refused URL)."""
        await self._destinations.check(url)
        chosen = tuple(dict.fromkeys(events)) if events else (WebhookFilter.COMPLETED,)
        return WebhookRequest(url, chosen)

    async def secret(self, consumer_id: uuid.UUID) -> str:
        """The consumer's signing secret (``whsec_...``), made on first use."""
        return shown_secret(await stored_secret(self._uow, self._clock, consumer_id))

    async def rotate(self, consumer_id: uuid.UUID) -> str:
        """A new secret replaces the consumer's; attempts from now on are signed with it."""
        await self.secret(consumer_id)  # makes one if there is none yet
        fresh = new_secret()
        async with self._uow() as uow:
            await uow.webhooks.replace_secret(consumer_id, fresh, self._clock.now())
            await uow.commit()
        return shown_secret(fresh)

    async def deliveries(
        self, consumer_id: uuid.UUID, execution_id: uuid.UUID
    ) -> list[DeliveryLine]:
        """Every attempt for the consumer's execution, and each attempt still to come."""
        async with self._uow() as uow:
            execution = await uow.executions.get(execution_id)
            if execution is None:
                raise ExecutionNotFound()
            visible_execution(execution, consumer_id)
            events = await uow.webhooks.list_events(execution_id)
            attempts = await uow.webhooks.list_deliveries(execution_id)
        return delivery_log(events, attempts)


async def stored_secret(
    uow_factory: UnitOfWorkFactory, clock: Clock, consumer_id: uuid.UUID
) -> str:
    """The consumer's secret as stored (base64), made and stored when there is none."""
    async with uow_factory() as uow:
        found = await uow.webhooks.get_secret(consumer_id)
    if found is not None:
        return found.secret
    made = WebhookSecret(new_id(), consumer_id, new_secret(), clock.now())
    try:
        async with uow_factory() as uow:
            await uow.webhooks.add_secret(made)
            await uow.commit()
        return made.secret
    except AlreadyExists:
        # Two first uses raced: both go on with the one that was stored.
        async with uow_factory() as uow:
            stored = await uow.webhooks.get_secret(consumer_id)
        if stored is None:
            raise
        return stored.secret


def delivery_log(
    events: Sequence[WebhookEvent], attempts: Sequence[WebhookDelivery]
) -> list[DeliveryLine]:
    """The attempts made, oldest first, then one PENDING line per event with an attempt
    still planned."""
    by_id = {e.id: e for e in events}
    lines = [
        DeliveryLine(
            a.id,
            by_id[a.event_id].webhook_id,
            by_id[a.event_id].event_type,
            a.attempt,
            a.status,
            a.response_status,
            a.error,
            a.duration_ms,
            a.created_at,
            a.next_attempt_at,
        )
        for a in sorted(attempts, key=lambda a: (a.created_at, a.attempt))
        if a.event_id in by_id
    ]
    recorded = {(a.event_id, a.attempt) for a in attempts}
    for event in events:
        if event.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            continue
        # A claimed attempt not yet recorded is the one planned (it may be on its way).
        upcoming = event.attempts + 1 if (event.id, event.attempts) in recorded else event.attempts
        lines.append(
            DeliveryLine(
                event.id,
                event.webhook_id,
                event.event_type,
                max(upcoming, 1),
                DeliveryStatus.PENDING,
                None,
                None,
                None,
                event.created_at,
                event.next_attempt_at,
            )
        )
    return lines
