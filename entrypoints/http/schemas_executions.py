"""Executions' body and answers: a run's request, and the one document of an execution.

The document is built as plain data (``execution_document``, see ``encoding``) and
documented by ``ExecutionView``. The same document answers a run, ``GET`` by id, a
cancel, a list (from ``ExecutionSummary``), the event stream and webhook bodies
(``ExecutionDocuments``); its output's stored file references become signed links, and
the last two leave out an input, output or logs over ``PUSHED_VALUE_MAX_BYTES``.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from tarsify.domain import execution as domain
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.failures import PendingReason
from tarsify.domain.jsonsafe import PUSHED_VALUE_MAX_BYTES, Omitted, bounded
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.webhooks import MAX_URL_CHARS, WebhookFilter
from tarsify.services.files import OutputFiles

from .encoding import Json, dumps
from .routing import services
from .schemas import RequestModel, Timestamp, View

# What the document is made from: a whole execution, or a listed one.
Shown = domain.ExecutionView | ExecutionSummary


class RunRequest(RequestModel):
    """Run a published Tars model (consumer); optionally be called back."""

    inputs: dict[str, Any] = Field(description="The model's inputs (its inputSchema)")
    webhook: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="An http(s) URL to POST signed events of this execution to",
    )
    webhook_events_filter: list[WebhookFilter] | None = Field(
        default=None,
        min_length=1,
        max_length=len(WebhookFilter),
        description="Which events to send: start (it runs), output (chunks of a streaming "
        "model's output arrived; at most one per 500 ms), logs (its logs changed), completed "
        "(it ended, whatever the outcome). Default: completed",
    )


class TestRunRequest(RequestModel):
    """Test-run an own Tars model (developer): free, with the model's configuration."""

    inputs: dict[str, Any] = Field(description="The model's inputs (its inputSchema)")


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


class LogLineView(View):
    """One line of a job's log, as the provider reported it."""

    message: str
    level: str | None
    source: str | None
    timestamp: str | None


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
    progress: Any = Field(
        description="The worker's latest progress report while it runs (any JSON, such as"
        ' {"percent": 40}), or null'
    )
    logs: list[LogLineView] | None = Field(
        description="The job's newest log lines (at most 100, 16,000 characters of"
        " messages), where the provider reports them (fal), or null"
    )
    queue_position: int | None = Field(
        description="Its place in the provider's queue while QUEUED (0: next), where the"
        " provider reports it (fal), or null"
    )
    omitted: list[Literal["input", "output", "logs"]] | None = Field(
        default=None,
        description="Present when the input, output or logs (given as null) were left out"
        " for their size: over 8 KiB of JSON in a list, over 64 KiB in an event stream or"
        " webhook body."
        " GET /api/consumer/executions/{id} has them whole.",
    )


class TestRunView(ExecutionView):
    """A developer's test run: the execution's document, and the payload the worker got."""

    merged_input: dict[str, Any] | None = Field(
        default=None,
        description="The inputs merged with the model's configuration (defaults, locked and"
        " hidden fields, prompt prefix and suffix), as sent to the worker. Absent in lists",
    )


def execution_document(shown: Shown, output: Any = None) -> Json:
    """An execution for its consumer, whole or as listed (the same document): never the
    provider job or endpoint ids, and as ``input`` what the consumer sent — never the
    merged payload, which may hold the developer's hidden values and prompt wrapping.
    ``output``, when given, is the output with its file references turned into links
    (``render_execution``).

    An input or output left out for its size (``Omitted``: in lists, event streams and
    webhook bodies) is null and named in ``omitted``; GET by id has it whole."""
    e = shown.execution if isinstance(shown, domain.ExecutionView) else shown
    output = e.output_payload if output is None else output
    error = None
    if e.error_code is not None or e.error_message is not None:
        error = {"code": e.error_code or "ERROR", "message": e.error_message or ""}
    pending = None
    if (
        e.pending_reason is not None
        and not e.is_terminal
        and (
            e.status is ExecutionStatus.PENDING or e.pending_reason is PendingReason.FILES_UNSTORED
        )
    ):
        pending = {"code": e.pending_reason.value, "message": e.pending_reason.message}
    omitted = [
        name
        for name, value in (("input", e.consumer_input), ("output", output), ("logs", e.logs))
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
        "cost": e.price if e.status is ExecutionStatus.COMPLETED else 0,
        # The worker's latest progress report (any JSON), or null.
        "progress": e.progress,
        # The job's newest log lines and its place in the provider's queue, where the
        # provider reports them (fal), or null.
        "logs": None if isinstance(e.logs, Omitted) else e.logs,
        "queuePosition": e.queue_position,
    }
    if omitted:
        document["omitted"] = omitted
    return document


async def render_execution(
    files: OutputFiles | None, shown: Shown, max_value_bytes: int | None = None
) -> Json:
    """The execution's document, its output files as fresh signed URLs.

    With ``max_value_bytes``, an input or output larger than that (bytes of JSON) is left
    out (``omitted``): what is pushed to consumers is bounded whatever the row holds.
    """
    if max_value_bytes is not None:
        summary = shown if isinstance(shown, ExecutionSummary) else ExecutionSummary.of(shown)
        shown = dataclasses.replace(
            summary,
            consumer_input=bounded(summary.consumer_input, max_value_bytes),
            output_payload=bounded(summary.output_payload, max_value_bytes),
            logs=bounded(summary.logs, max_value_bytes),
        )
    e = shown.execution if isinstance(shown, domain.ExecutionView) else shown
    output = e.output_payload
    if files is not None and output is not None and not isinstance(output, Omitted):
        output = await files.render(e.id, output)
    return execution_document(shown, output)


async def execution_json(
    request: web.Request, shown: Shown, max_value_bytes: int | None = None
) -> Json:
    """The execution's document for the consumer making ``request``."""
    return await render_execution(services(request).files, shown, max_value_bytes)


class ExecutionDocuments:
    """The ``ExecutionRenderer`` port: the execution's document as encoded JSON."""

    def __init__(self, files: OutputFiles | None) -> None:
        self._files = files

    async def __call__(self, view: domain.ExecutionView) -> bytes:
        """The JSON that GET answers as ``data`` for this execution, its input and output
        each bounded to ``PUSHED_VALUE_MAX_BYTES`` (webhook bodies)."""
        return dumps(await render_execution(self._files, view, PUSHED_VALUE_MAX_BYTES))
