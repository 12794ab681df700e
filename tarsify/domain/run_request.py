"""What a consumer asks when running a Tars model: every input of the engine's run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tarsify.domain.models import JsonObject
from tarsify.domain.webhooks import WebhookRequest


@dataclass(slots=True, frozen=True)
class RunRequest:
    """One run: who asks, which model, its inputs, and how the answer is wanted.

    ``idempotency_key`` makes a repeat return the first execution; ``webhook`` (checked
    by ``ConsumerWebhooks.request``) is stored with the execution, in its transaction;
    ``wait_s`` > 0 waits (bounded by the engine's settings) for a terminal status.
    """

    consumer_id: uuid.UUID
    slug: str
    inputs: JsonObject
    idempotency_key: str | None = None
    webhook: WebhookRequest | None = None
    wait_s: float = 0.0
