"""Executions as answered to consumers: stored file references become signed links.

The same rendering serves ``GET /api/consumer/executions/{id}``, the event stream and
webhook bodies (``ExecutionDocuments``), so all three carry the same JSON.
"""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.execution import ExecutionView
from tarsify.services.files import OutputFiles

from . import render
from .routing import services


async def render_execution(files: OutputFiles | None, view: ExecutionView) -> render.Json:
    """The execution's document, its output files as fresh signed URLs."""
    output = view.execution.output_payload
    if files is not None and output is not None:
        output = await files.render(view.execution.id, output)
    return render.execution(view, output)


async def execution_json(request: web.Request, view: ExecutionView) -> render.Json:
    """The execution's document for the consumer making ``request``."""
    return await render_execution(services(request).files, view)


class ExecutionDocuments:
    """The ``ExecutionRenderer`` port: the execution's document as encoded JSON."""

    def __init__(self, files: OutputFiles | None) -> None:
        self._files = files

    async def __call__(self, view: ExecutionView) -> bytes:
        """The JSON that GET answers as ``data`` for this execution."""
        return render.dumps(await render_execution(self._files, view))
