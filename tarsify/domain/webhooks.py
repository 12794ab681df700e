"""Webhooks to consumers: what a run asks for, the events it produces, and their attempts.

A run may name a URL and the events it wants (Replicate's ``webhookEventsFilter``:
``start``, ``completed``, ``output`` (chunks of a streaming model's output arrived) and
``logs`` (the log lines of its job changed, where the provider reports them: fal)). Each
event that happens is stored once, in the transaction of the change that caused it (an outbox row),
and delivered at least once by the delivery worker, with growing delays between
attempts. Every attempt is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus

MAX_URL_CHARS = 2048
MAX_ERROR_CHARS = 500
# ``output`` and ``logs`` events of one execution come at most this often (each carries
# the execution as it is when sent, so one waiting to be sent covers later changes).
FREQUENT_EVENT_SPACING_S = 0.5
# 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then 8 h three times: the last attempt
# comes about 31.7 hours after the first, so a receiver down for a whole day still gets it.
DEFAULT_RETRY_DELAYS_S: tuple[float, ...] = (
    5,
    30,
    120,
    600,
    1800,
    3600,
    7200,
    14400,
    28800,
    28800,
    28800,
)


class WebhookFilter(StrEnum):
    """The events a run can ask for (``webhookEventsFilter``)."""

    START = "start"
    COMPLETED = "completed"
    OUTPUT = "output"
    LOGS = "logs"


@dataclass(slots=True, frozen=True)
class WebhookRequest:
    """A run's ``webhook`` and ``webhookEventsFilter``, checked."""

    url: str
    events: tuple[WebhookFilter, ...]


class WebhookEventType(StrEnum):
    """The ``type`` of a webhook body."""

    STARTED = "execution.started"
    COMPLETED = "execution.completed"
    OUTPUT = "execution.output"
    LOGS = "execution.logs"

    @property
    def is_frequent(self) -> bool:
        """True for the events a running execution may make many of (spaced out)."""
        return self in (WebhookEventType.OUTPUT, WebhookEventType.LOGS)


class DeliveryStatus(StrEnum):
    """Where an event (or one attempt) stands."""

    PENDING = "PENDING"  # not attempted yet (or its next attempt is planned)
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    RETRYING = "RETRYING"  # failed; another attempt is planned
    FAILED = "FAILED"  # failed, and no attempt is left


@dataclass(slots=True)
class ExecutionWebhook:
    """The webhook a run asked for (``id`` is the execution's id: one per execution)."""

    id: uuid.UUID
    consumer_id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime

    def wants(self, event: WebhookEventType) -> bool:
        """True when the run asked for ``event``."""
        return _FILTER_OF[event] in self.events


@dataclass(slots=True)
class WebhookEvent:
    """One event to deliver (the outbox row). ``webhook_id`` (``msg_...``) is the same for
    every attempt; ``attempts`` counts the attempts claimed so far."""

    id: uuid.UUID
    execution_id: uuid.UUID
    consumer_id: uuid.UUID
    webhook_id: str
    event_type: WebhookEventType
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        # Storage hands back enum columns as plain text on some paths.
        self.event_type = WebhookEventType(self.event_type)
        self.status = DeliveryStatus(self.status)


@dataclass(slots=True)
class WebhookDelivery:
    """One attempt to deliver an event, as the delivery log shows it."""

    id: uuid.UUID
    event_id: uuid.UUID
    execution_id: uuid.UUID
    attempt: int
    status: DeliveryStatus
    response_status: int | None
    error: str | None
    duration_ms: int
    created_at: datetime
    next_attempt_at: datetime | None

    def __post_init__(self) -> None:
        self.status = DeliveryStatus(self.status)


@dataclass(slots=True, frozen=True)
class DeliveryLine:
    """A line of an execution's delivery log: an attempt, or the next one planned."""

    id: uuid.UUID
    webhook_id: str
    event_type: WebhookEventType
    attempt: int
    status: DeliveryStatus
    response_status: int | None
    error: str | None
    duration_ms: int | None
    created_at: datetime
    next_attempt_at: datetime | None


@dataclass(slots=True)
class WebhookSecret:
    """A consumer's signing secret (the raw bytes, shown as ``whsec_`` + base64)."""

    id: uuid.UUID
    consumer_id: uuid.UUID
    secret: str
    created_at: datetime
    rotated_at: datetime | None = None


_FILTER_OF = {
    WebhookEventType.STARTED: WebhookFilter.START,
    WebhookEventType.COMPLETED: WebhookFilter.COMPLETED,
    WebhookEventType.OUTPUT: WebhookFilter.OUTPUT,
    WebhookEventType.LOGS: WebhookFilter.LOGS,
}


def new_webhook_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and 32 hex characters."""
    return "msg_" + uuid.uuid4().hex


def events_of(before: Execution, after: Execution) -> list[WebhookEventType]:
    """The events a change makes happen: started when it became RUNNING, output when it
    stored chunks of the output, logs when its job's log lines changed, completed when it
    became terminal. A job that was never
    seen running (it finished between two looks) has no started event."""
    found = []
    running = ExecutionStatus.RUNNING
    if after.status is running and before.status is not running:
        found.append(WebhookEventType.STARTED)
    if after.chunks > before.chunks:
        found.append(WebhookEventType.OUTPUT)
    if after.logs and after.logs != before.logs:
        found.append(WebhookEventType.LOGS)
    if after.is_terminal and not before.is_terminal:
        found.append(WebhookEventType.COMPLETED)
    return found


def retry_delay(attempt: int, delays: Sequence[float]) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based); None when no
    attempt is left."""
    if attempt < 1 or attempt > len(delays):
        return None
    return float(delays[attempt - 1])


def short_error(text: str) -> str:
    """An attempt's error as stored: one line, at most ``MAX_ERROR_CHARS``."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"
