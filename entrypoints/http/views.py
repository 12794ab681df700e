"""Response bodies: what each audience may see of the domain, as camelCase JSON.

Developer, consumer and marketplace views never carry the provider's endpoint id or a
provider job id; only the admin endpoint views do. Their base is ``schemas.View``.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from tarsify.domain.models import (
    ExecutionStatus,
)

from .schemas import Timestamp, View


class ModelRef(View):
    """The Tars model an execution ran."""

    slug: str
    title: str


class ExecutionError(View):
    """Why an execution did not complete."""

    code: str
    message: str


class PendingReasonView(View):
    """Why an unfinished execution waits (null otherwise). While PENDING, for the GPU
    provider: PROVIDER_UNAVAILABLE and RATE_LIMITED are sent again automatically;
    SUBMIT_UNCONFIRMED waits for the provider's confirmation, then fails. While RUNNING,
    FILES_UNSTORED: the job finished and its output files wait for the file store."""

    code: str
    message: str


class ExecutionView(View):
    """An execution as its consumer sees it."""

    id: uuid.UUID
    status: ExecutionStatus
    model: ModelRef
    input: dict[str, Any] | None
    output: Any
    error: ExecutionError | None
    pending_reason: PendingReasonView | None
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    execution_time_ms: int | None
    queue_time_ms: int | None
    cost: int
    omitted: list[Literal["input", "output"]] | None = Field(
        default=None,
        description="Present when the input or output (given as null) was left out for its"
        " size: over 8 KiB of JSON in a list, over 64 KiB in an event stream or webhook body."
        " GET /api/consumer/executions/{id} has them whole.",
    )
