"""The hot response of executions: its one representation.

Built as plain data and written by ``encoding``; the pydantic view
``views.ExecutionView`` only describes it in the OpenAPI document, and
``tests/unit/test_render.py`` validates every rendering against it.
"""

from __future__ import annotations

from typing import Any

from tarsify.domain import models as m
from tarsify.domain.execution import ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.failures import PendingReason
from tarsify.domain.jsonsafe import Omitted

from .encoding import Json


def execution(shown: ExecutionView | ExecutionSummary, output: Any = None) -> Json:
    """An execution for its consumer, whole or as listed (the same document): never the
    provider job or endpoint ids, and as ``input`` what the consumer sent — never the
    merged payload, which may hold the developer's hidden values and prompt wrapping.
    ``output``, when given, is the output with its file references turned into links
    (``outputs.execution_json``).

    An input or output left out for its size (``Omitted``: in lists, event streams and
    webhook bodies) is null and named in ``omitted``; GET by id has it whole."""
    e = shown.execution if isinstance(shown, ExecutionView) else shown
    output = e.output_payload if output is None else output
    error = None
    if e.error_code is not None or e.error_message is not None:
        error = {"code": e.error_code or "ERROR", "message": e.error_message or ""}
    pending = None
    if (
        e.pending_reason is not None
        and not e.is_terminal
        and (
            e.status is m.ExecutionStatus.PENDING
            or e.pending_reason is PendingReason.FILES_UNSTORED
        )
    ):
        pending = {"code": e.pending_reason.value, "message": e.pending_reason.message}
    omitted = [
        name
        for name, value in (("input", e.consumer_input), ("output", output))
        if isinstance(value, Omitted)
    ]
    document: Json = {
        "id": str(e.id),
        "status": e.status.value,
        "model": {"slug": shown.model_slug, "title": shown.model_title},
        "input": None if isinstance(e.consumer_input, Omitted) else e.consumer_input,
        "output": None if isinstance(output, Omitted) else output,
        "error": error,
        "pendingReason": pending,
        "createdAt": e.created_at,
        "startedAt": e.started_at,
        "completedAt": e.completed_at,
        "executionTimeMs": e.execution_time_ms,
        "queueTimeMs": e.queue_time_ms,
        # Charged so far: nothing until the run completes, then its price; a run that
        # fails, times out or is cancelled is never charged.
        "cost": e.price if e.status is m.ExecutionStatus.COMPLETED else 0,
    }
    if omitted:
        document["omitted"] = omitted
    return document
