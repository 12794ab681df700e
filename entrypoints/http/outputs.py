"""Executions as answered to consumers: stored file references become signed links.

The same rendering serves ``GET /api/consumer/executions/{id}``, the event stream and
webhook bodies (``ExecutionDocuments``), so all three carry the same JSON (the last two
with inputs and outputs over ``PUSHED_VALUE_MAX_BYTES`` left out).
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from tarsify.domain.execution import ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.jsonsafe import PUSHED_VALUE_MAX_BYTES, Omitted, bounded
from tarsify.services.files import OutputFiles

from . import render
from .encoding import Json, dumps
from .routing import services


async def render_execution(
    files: OutputFiles | None,
    shown: ExecutionView | ExecutionSummary,
    max_value_bytes: int | None = None,
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
        )
    e = shown.execution if isinstance(shown, ExecutionView) else shown
    output = e.output_payload
    if files is not None and output is not None and not isinstance(output, Omitted):
        output = await files.render(e.id, output)
    return render.execution(shown, output)


async def execution_json(
    request: web.Request,
    shown: ExecutionView | ExecutionSummary,
    max_value_bytes: int | None = None,
) -> Json:
    """The execution's document for the consumer making ``request``."""
    return await render_execution(services(request).files, shown, max_value_bytes)


class ExecutionDocuments:
    """The ``ExecutionRenderer`` port: the execution's document as encoded JSON."""

    def __init__(self, files: OutputFiles | None) -> None:
        self._files = files

    async def __call__(self, view: ExecutionView) -> bytes:
        """The JSON that GET answers as ``data`` for this execution, its input and output
        each bounded to ``PUSHED_VALUE_MAX_BYTES`` (webhook bodies)."""
        return dumps(await render_execution(self._files, view, PUSHED_VALUE_MAX_BYTES))
