"""The webhook outbox: a run's webhook and its events, written in the engine's transactions.

``WebhookListener`` is an ``ExecutionListener``: it stores the webhook a run asked for
(``RunRequest.webhook``) in the transaction that stores the execution, and an event in
the transaction of each change that makes one happen, so an event exists exactly when
its change does. Later changes read the run's webhook from the store, once per execution
and process. The events are delivered by ``tarsify.services.webhook_delivery``.

``output`` and ``logs`` events come at most every ``FREQUENT_EVENT_SPACING_S`` per
execution: each is due that long after the one before it (its ``created_at`` is when it
is due), and none is added while one is still waiting for its first attempt (sent with
the execution as it is then, it carries the later change too).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta

from tarsify.domain.execution import Execution
from tarsify.domain.models import RunTarget, new_id
from tarsify.domain.run_request import RunRequest
from tarsify.domain.webhooks import (
    FREQUENT_EVENT_SPACING_S,
    DeliveryStatus,
    ExecutionWebhook,
    WebhookEvent,
    WebhookEventType,
    events_of,
    new_webhook_id,
)
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.engine.listeners import Write

MAX_KNOWN_WITHOUT = 10_000


class WebhookListener:
    """Writes webhooks and their events in the engine's transactions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Executions known to have no webhook (a run's webhook is stored with it, never
        # later, so this never goes stale); the oldest are forgotten past a bound.
        self._without: dict[uuid.UUID, None] = {}

    async def plan_create(
        self, execution: Execution, target: RunTarget, request: RunRequest
    ) -> Write | None:
        """Store the webhook the run asked for, if any."""
        asked = request.webhook
        if asked is None or execution.consumer_id is None:
            self._known_without(execution.id)  # its changes here need not read it
            return None
        events = sorted({str(e) for e in asked.events})
        webhook = ExecutionWebhook(
            execution.id, execution.consumer_id, asked.url, events, execution.created_at
        )
        return functools.partial(_add_subscription, webhook)

    async def plan_change(
        self, reads: UnitOfWorkFactory, before: Execution, after: Execution
    ) -> Write | None:
        """Store the events this change makes happen that the run's webhook wants, if it
        asked for one. A run's webhook is stored with the execution and never added or
        changed later, so what is read now holds when the change is stored: most runs ask
        for none, and their changes write nothing here (read once per execution and
        process, and not at all in the process that made the run)."""
        happened = events_of(before, after)
        if not happened or after.id in self._without:
            return None
        async with reads() as uow:
            webhook = await uow.webhooks.get_subscription(after.id)
        if webhook is None:
            self._known_without(after.id)
            return None
        wanted = [event_type for event_type in happened if webhook.wants(event_type)]
        due = {event_type: self._clock.now() for event_type in wanted}
        for event_type in [e for e in wanted if e.is_frequent]:
            at = await self._frequent_due(reads, after, event_type)
            if at is None:
                del due[event_type]
            else:
                due[event_type] = at
        if not due:
            return None
        return functools.partial(self._add_events, webhook, after, due)

    async def _frequent_due(
        self, reads: UnitOfWorkFactory, after: Execution, event_type: WebhookEventType
    ) -> datetime | None:
        """When a new ``output`` or ``logs`` event is due, or None when one is still
        waiting (it will carry this change)."""
        async with reads() as uow:
            events = await uow.webhooks.list_events(after.id)
        earlier = [e for e in events if e.event_type is event_type]
        if any(e.status is DeliveryStatus.PENDING and e.attempts == 0 for e in earlier):
            return None
        now = self._clock.now()
        if not earlier:
            return now
        last = max(e.created_at for e in earlier)
        return max(now, last + timedelta(seconds=FREQUENT_EVENT_SPACING_S))

    async def committed(self, after: Execution) -> None:
        """Nothing to tell: delivery reads the outbox."""

    def _known_without(self, execution_id: uuid.UUID) -> None:
        if len(self._without) >= MAX_KNOWN_WITHOUT:
            del self._without[next(iter(self._without))]
        self._without[execution_id] = None

    async def _add_events(
        self,
        webhook: ExecutionWebhook,
        after: Execution,
        due: dict[WebhookEventType, datetime],
        uow: UnitOfWork,
    ) -> None:
        now = self._clock.now()
        for event_type, at in due.items():
            event = WebhookEvent(
                new_id(),
                after.id,
                webhook.consumer_id,
                new_webhook_id(),
                event_type,
                webhook.url,
                DeliveryStatus.PENDING,
                0,
                at,
                at if event_type.is_frequent else now,
                now,
            )
            await uow.webhooks.add_event(event)


async def _add_subscription(webhook: ExecutionWebhook, uow: UnitOfWork) -> None:
    await uow.webhooks.add_subscription(webhook)
