"""What a list of executions holds: the read model of a consumer's history.

A listed execution is only shown, never changed or stored, so it carries no more than its
consumer's document needs: none of the merged payload (hidden inputs), the provider's ids
or the engine's bookkeeping (``NOT_LISTED``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.failures import PendingReason
from tarsify.domain.jsonsafe import Omitted, StoredJson
from tarsify.domain.models import ExecutionStatus, JsonObject


@dataclass(slots=True)
class ExecutionSummary:
    """One execution of a consumer's list, with the slug and title of its Tars model.

    Each field means what the ``Execution`` field of that name means. ``consumer_input``,
    ``output_payload`` and ``logs`` may come as the stored JSON text (``StoredJson``) and, when
    larger than ``LISTED_VALUE_MAX_BYTES``, as their size only (``Omitted``). (Not
    frozen: a page builds one per row, and a frozen dataclass takes several times as
    long to build.)
    """

    id: uuid.UUID
    created_at: datetime
    status: ExecutionStatus
    consumer_input: JsonObject | StoredJson | Omitted | None
    output_payload: Any
    error_code: str | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    execution_time_ms: int | None
    queue_time_ms: int | None
    pending_reason: PendingReason | None
    price: int
    progress: Any
    logs: Any
    queue_position: int | None
    model_slug: str
    model_title: str

    def __post_init__(self) -> None:
        # Storage hands back the reason as plain text.
        if self.pending_reason is not None:
            self.pending_reason = PendingReason(self.pending_reason)

    @property
    def is_terminal(self) -> bool:
        """True once the execution reached a final status."""
        return self.status.is_terminal

    @classmethod
    def of(cls, view: ExecutionView) -> ExecutionSummary:
        """What a list holds of the execution of ``view``."""
        e = view.execution
        return cls(
            id=e.id,
            created_at=e.created_at,
            status=e.status,
            consumer_input=e.consumer_input,
            output_payload=e.output_payload,
            error_code=e.error_code,
            error_message=e.error_message,
            started_at=e.started_at,
            completed_at=e.completed_at,
            execution_time_ms=e.execution_time_ms,
            queue_time_ms=e.queue_time_ms,
            pending_reason=e.pending_reason,
            price=e.price,
            progress=e.progress,
            logs=e.logs,
            queue_position=e.queue_position,
            model_slug=view.model_slug,
            model_title=view.model_title,
        )


# The fields of an execution a list leaves out: whatever its summary does not hold.
NOT_LISTED = frozenset(f.name for f in dataclasses.fields(Execution)) - frozenset(
    f.name for f in dataclasses.fields(ExecutionSummary)
)
