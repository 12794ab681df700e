"""Executions as answered to consumers: stored file references become signed links."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.execution import ExecutionView

from . import render
from .routing import services


async def execution_json(request: web.Request, view: ExecutionView) -> render.Json:
    """The execution's document, its output files as fresh signed URLs."""
    files = services(request).files
    output = view.execution.output_payload
    if files is not None and output is not None:
        output = await files.render(view.execution.id, output)
    return render.execution(view, output)
