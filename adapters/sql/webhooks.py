"""Webhook repository: subscriptions, the outbox of events, attempts and secrets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, from_row, to_values
from adapters.sql.query import Query
from adapters.sql.tables import (
    WEBHOOK_DUE_PREDICATE,
    execution_webhooks,
    webhook_deliveries,
    webhook_events,
    webhook_secrets,
)
from adapters.sql.types import UtcDateTime
from tarsify.domain.webhooks import ExecutionWebhook, WebhookDelivery, WebhookEvent, WebhookSecret

_WEBHOOK = Shape(ExecutionWebhook, execution_webhooks)
_EVENT = Shape(WebhookEvent, webhook_events)
_DELIVERY = Shape(WebhookDelivery, webhook_deliveries)
_SECRET = Shape(WebhookSecret, webhook_secrets)
_ID, _EXECUTION, _CONSUMER = "p_id", "p_execution", "p_consumer"

_GET_WEBHOOK = Query(
    select(*_WEBHOOK.columns).where(execution_webhooks.c.id == bindparam(_EXECUTION))
)
_EVENTS = Query(
    select(*_EVENT.columns)
    .where(webhook_events.c.execution_id == bindparam(_EXECUTION))
    .order_by(webhook_events.c.created_at, webhook_events.c.id)
)
_DELIVERIES = Query(
    select(*_DELIVERY.columns)
    .where(webhook_deliveries.c.execution_id == bindparam(_EXECUTION))
    .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.attempt)
)
_GET_SECRET = Query(
    select(*_SECRET.columns).where(webhook_secrets.c.consumer_id == bindparam(_CONSUMER))
)
# Spelled like the partial index predicate, so the planner can use that index.
_still_due = text(WEBHOOK_DUE_PREDICATE)


def _due_before(now: Any) -> Any:
    return and_(_still_due, webhook_events.c.next_attempt_at <= now)


def claim_events_query(now: datetime, limit: int) -> Any:
    """Due events, the longest waiting first, skipping rows another claimer holds
    (SQLite ignores ``FOR UPDATE``: there the claiming UPDATE re-checks the condition)."""
    return (
        select(webhook_events.c.id)
        .where(_due_before(now))
        .order_by(webhook_events.c.next_attempt_at, webhook_events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


class SqlWebhookRepository:
    """Webhook rows in ``execution_webhooks``, ``webhook_events``, ``webhook_deliveries``
    and ``webhook_secrets``."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("webhooks.add_subscription")
    async def add_subscription(self, webhook: ExecutionWebhook) -> None:
        """Insert the webhook of a new execution."""
        await self._db.execute(insert(execution_webhooks), to_values(webhook))

    @guarded("webhooks.get_subscription")
    async def get_subscription(self, execution_id: uuid.UUID) -> ExecutionWebhook | None:
        """The webhook the execution's run asked for."""
        row = await self._db.fetch_one(_GET_WEBHOOK, {_EXECUTION: execution_id})
        return None if row is None else _WEBHOOK.load(row)

    @guarded("webhooks.add_event")
    async def add_event(self, event: WebhookEvent) -> None:
        """Insert an event to deliver."""
        await self._db.execute(insert(webhook_events), to_values(event))

    @guarded("webhooks.claim_due")
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookEvent]:
        """Claim due events: one more attempt each, reserved until ``lease_until``."""
        ids = list((await self._db.execute(claim_events_query(now, limit))).scalars())
        if not ids:
            return []
        stmt = (
            update(webhook_events)
            .where(webhook_events.c.id.in_(ids), _due_before(now))
            .values(
                attempts=webhook_events.c.attempts + 1,
                next_attempt_at=lease_until,
                updated_at=now,
            )
            .returning(*webhook_events.columns)
        )
        rows = (await self._db.execute(stmt)).mappings().all()
        claimed = [from_row(WebhookEvent, row) for row in rows]
        claimed.sort(key=lambda e: (e.created_at, e.id))
        return claimed

    @guarded("webhooks.release")
    async def release(self, event: WebhookEvent, next_attempt_at: datetime) -> bool:
        """Give back a claimed attempt that was not made (unless claimed again since)."""
        stmt = (
            update(webhook_events)
            .where(
                webhook_events.c.id == event.id,
                webhook_events.c.attempts == event.attempts,
            )
            .values(attempts=webhook_events.c.attempts - 1, next_attempt_at=next_attempt_at)
        )
        return bool((await self._db.execute(stmt)).rowcount)

    @guarded("webhooks.record")
    async def record(self, event: WebhookEvent, delivery: WebhookDelivery) -> None:
        """Insert the attempt; update the event unless a later attempt was claimed."""
        await self._db.execute_isolated(insert(webhook_deliveries), to_values(delivery))
        stmt = (
            update(webhook_events)
            .where(
                webhook_events.c.id == event.id,
                webhook_events.c.attempts == delivery.attempt,
            )
            .values(
                status=event.status.value,
                next_attempt_at=event.next_attempt_at,
                updated_at=event.updated_at,
            )
        )
        await self._db.execute(stmt)

    @guarded("webhooks.list_events")
    async def list_events(self, execution_id: uuid.UUID) -> list[WebhookEvent]:
        """The execution's events, oldest first."""
        rows = await self._db.fetch(_EVENTS, {_EXECUTION: execution_id})
        return [_EVENT.load(row) for row in rows]

    @guarded("webhooks.list_deliveries")
    async def list_deliveries(self, execution_id: uuid.UUID) -> list[WebhookDelivery]:
        """Every attempt for the execution's events, oldest first."""
        rows = await self._db.fetch(_DELIVERIES, {_EXECUTION: execution_id})
        return [_DELIVERY.load(row) for row in rows]

    @guarded("webhooks.get_secret")
    async def get_secret(self, consumer_id: uuid.UUID) -> WebhookSecret | None:
        """The consumer's signing secret."""
        row = await self._db.fetch_one(_GET_SECRET, {_CONSUMER: consumer_id})
        return None if row is None else _SECRET.load(row)

    @guarded("webhooks.add_secret")
    async def add_secret(self, secret: WebhookSecret) -> None:
        """Insert; ``AlreadyExists`` when the consumer has one."""
        await self._db.execute_isolated(insert(webhook_secrets), to_values(secret))

    @guarded("webhooks.replace_secret")
    async def replace_secret(self, consumer_id: uuid.UUID, secret: str, now: datetime) -> bool:
        """Replace the consumer's secret."""
        stmt = (
            update(webhook_secrets)
            .where(webhook_secrets.c.consumer_id == bindparam(_CONSUMER))
            .values(secret=bindparam("p_secret"), rotated_at=bindparam("p_now", UtcDateTime()))
        )
        params = {_CONSUMER: consumer_id, "p_secret": secret, "p_now": now}
        result: Any = await self._db.execute(stmt, params)
        return bool(result.rowcount == 1)
