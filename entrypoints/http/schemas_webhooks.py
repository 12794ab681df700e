"""Consumers' webhooks' answers: the signing secret and the delivery log (a run asks for
its webhook in ``schemas_executions.RunRequest``)."""

from __future__ import annotations

import uuid

from pydantic import Field

from tarsify.domain.webhooks import DeliveryLine, DeliveryStatus, WebhookEventType

from .schemas import Timestamp, View


class WebhookSecretView(View):
    """The consumer's webhook signing secret (Standard Webhooks format)."""

    secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/]+=*$")


class WebhookDeliveryView(View):
    """One attempt to deliver a webhook event, or (status PENDING) the next one planned."""

    id: uuid.UUID
    webhook_id: str = Field(description="webhook-id header: the same for every attempt")
    event_type: WebhookEventType
    attempt: int = Field(ge=1)
    status: DeliveryStatus
    response_status: int | None = Field(description="The receiver's HTTP status, if any")
    error: str | None = Field(description="Why the attempt failed (null when delivered)")
    duration_ms: int | None
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="When the next attempt is due")


def delivery_view(line: DeliveryLine) -> WebhookDeliveryView:
    """The view of one line of the delivery log."""
    return WebhookDeliveryView(
        id=line.id,
        webhook_id=line.webhook_id,
        event_type=line.event_type,
        attempt=line.attempt,
        status=line.status,
        response_status=line.response_status,
        error=line.error,
        duration_ms=line.duration_ms,
        created_at=line.created_at,
        next_attempt_at=line.next_attempt_at,
    )
