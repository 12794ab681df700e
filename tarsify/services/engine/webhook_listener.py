"""The webhook outbox: a run's webhook and its events, written in the engine's transactions.

``WebhookListener`` is an ``ExecutionListener``: it stores the webhook a run asked for
(``RunRequest.webhook``) in the transaction that stores the execution, and an event in
the transaction of each change that makes one happen, so an event exists exactly when
its change does. Later changes read the run's webhook from the store, once per execution
and process. The events are delivered by ``tarsify.services.webhook_delivery``.
"""

from __future__ import annotations

import uuid

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget, new_id
from tarsify.domain.run_request import RunRequest
from tarsify.domain.webhooks import (
    DeliveryStatus,
    ExecutionWebhook,
    WebhookEvent,
    events_of,
    new_webhook_id,
)
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory

MAX_KNOWN_WITHOUT = 10_000


class WebhookListener:
    """Writes webhooks and their events in the engine's transactions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Executions known to have no webhook (a run's webhook is stored with it, never
        # later, so this never goes stale); the oldest are forgotten past a bound.
        self._without: dict[uuid.UUID, None] = {}

    async def created(
        self, uow: UnitOfWork, execution: Execution, target: RunTarget, request: RunRequest
    ) -> None:
        """Store the webhook the run asked for, if any."""
        asked = request.webhook
        if asked is None:
            self._known_without(execution.id)  # its changes here need not read it
            return
        events = sorted({str(e) for e in asked.events})
        webhook = ExecutionWebhook(
            execution.id, execution.consumer_id, asked.url, events, execution.created_at
        )
        await uow.webhooks.add_subscription(webhook)

    def writes_on_create(self, execution: Execution, request: RunRequest) -> bool:
        """When the run asked for a webhook."""
        return request.webhook is not None

    def writes_on(self, before: Execution, after: Execution) -> bool:
        """When the change makes an event happen (the run may have asked for it)."""
        return bool(events_of(before, after))

    async def will_write(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> bool:
        """When the run asked for a webhook that wants an event of this change. A run's
        webhook is stored with the execution and never added later, so what is read
        now holds when the change is stored: most runs ask for none, and their changes
        are single writes (read once per execution and process)."""
        if after.id in self._without:
            return False
        async with reads() as uow:
            webhook = await uow.webhooks.get_subscription(after.id)
        if webhook is None:
            self._known_without(after.id)
            return False
        return any(webhook.wants(e) for e in events_of(before, after))

    def _known_without(self, execution_id: uuid.UUID) -> None:
        if len(self._without) >= MAX_KNOWN_WITHOUT:
            del self._without[next(iter(self._without))]
        self._without[execution_id] = None

    async def changed(self, uow: UnitOfWork, before: Execution, after: Execution) -> None:
        """Store the events this change makes happen, if the run asked for them."""
        happened = events_of(before, after)
        if not happened or after.id in self._without:
            return
        webhook = await uow.webhooks.get_subscription(after.id)
        if webhook is None:
            self._known_without(after.id)
            return
        now = self._clock.now()
        for event_type in happened:
            if webhook.wants(event_type):
                event = WebhookEvent(
                    new_id(),
                    after.id,
                    after.consumer_id,
                    new_webhook_id(),
                    event_type,
                    webhook.url,
                    DeliveryStatus.PENDING,
                    0,
                    now,
                    now,
                    now,
                )
                await uow.webhooks.add_event(event)
