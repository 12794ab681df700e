"""Serving the app: what aiohttp answers before any middleware runs also uses the envelope.

A request line or header aiohttp cannot parse (control bytes, a header over 8 KiB, a bad
method) never reaches the application: aiohttp's connection handler answers it itself, in
plain text that quotes up to ~100 bytes of the offending input, token material included.
``EnvelopeAppRunner`` serves the app with a connection handler whose ``handle_error``
answers in the error envelope, quotes nothing, and logs only the kind of failure.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from .envelope import error_response
from .middleware import HTTP_ERROR_CODES

log = structlog.get_logger("tarsify.http")

MESSAGES = {
    400: ("ERR_2001", "Malformed HTTP request"),
    500: ("ERR_5001", "Internal error"),
    504: ("ERR_5040", "The request took too long"),
}


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors in the envelope."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The envelope for ``status``; ``message`` (which quotes the input) is dropped."""
        kind = type(exc).__name__ if exc is not None else None
        if status >= 500:
            log.error("http.connection_error", status=status, error=kind, exc_info=exc)
        else:
            # The exception's text quotes the offending bytes (an Authorization header...).
            log.info("http.malformed_request", status=status, error=kind)
        if request.writer.output_size > 0:
            raise ConnectionError("Response already started; the connection is closed")
        code, text = MESSAGES.get(status) or HTTP_ERROR_CODES.get(
            status, (f"ERR_{status}0", "Request failed")
        )
        response = error_response(status, code, text)
        response.force_close()
        return response


class EnvelopeServer(web.Server):
    """aiohttp's low-level server, making ``EnvelopeRequestHandler`` connections."""

    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        # Same slots, one overridden method: the handler aiohttp built, answering its way.
        handler.__class__ = EnvelopeRequestHandler
        return handler


class EnvelopeAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server answers malformed requests in the envelope."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = EnvelopeServer
        return server


def make_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner ``tarsify serve`` (and the tests of this module) serve ``app`` with."""
    return EnvelopeAppRunner(app, **kwargs)
