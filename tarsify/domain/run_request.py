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
    ``tester`` names the developer test-running their own model (DRAFT or PUBLISHED):
    then ``consumer_id`` is None and the run is free.
    """

    consumer_id: uuid.UUID | None
    slug: str
    inputs: JsonObject
    idempotency_key: str | None = None
    webhook: WebhookRequest | None = None
    wait_s: float = 0.0
    tester: uuid.UUID | None = None

    @classmethod
    def test_run(
        cls, developer_id: uuid.UUID, slug: str, inputs: JsonObject, wait_s: float = 0.0
    ) -> RunRequest:
        """A developer's free test run of their own model."""
        return cls(None, slug, inputs, wait_s=wait_s, tester=developer_id)
