"""Middlewares: request id, access log, CORS and the single error-to-envelope mapping."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from tarsify.domain.errors import TarsifyError

from .envelope import error_response, error_status
from .routes_metrics import record_request
from .routing import Handler

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# An API key pasted into a URL by mistake must not reach the logs with it.
API_KEY_IN_PATH_RE = re.compile(r"tsk_[A-Za-z0-9_-]*")

# What the access log and the metrics say of a request whose client left before its
# answer was sent (nginx's "client closed request"): never counted as a 5xx.
CLIENT_CLOSED_STATUS = 499
CLIENT_GONE_KEY = web.RequestKey("client_gone", bool)


class AccessRecords:
    """The standard logger under the access log, for its one call site: what structlog's
    chain (as configured at logging setup, renderer and all) hands it becomes a record
    made from a template, without the caller lookup and the per-record process and
    thread queries of ``Logger.makeRecord``, then goes through the logger's handlers as
    any record does. The access log writes a line per request; this is most of its cost.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.name = logger.name
        made = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, "", (), None, "request_log_middleware"
        )
        self._template = dict(made.__dict__)

    def __getattr__(self, name: str) -> Any:
        # Levels, handlers and the rest: the standard logger's own.
        return getattr(self.logger, name)

    def record(self, level: int, msg: object, extra: dict[str, object] | None) -> logging.LogRecord:
        """A record of ``msg`` at ``level``, made now."""
        record = logging.LogRecord.__new__(logging.LogRecord)
        fields = record.__dict__
        fields.update(self._template)
        now = time.time()
        fields["created"] = now
        fields["msecs"] = (now - int(now)) * 1000.0
        fields["relativeCreated"] = (now - logging._startTime) * 1000.0  # type: ignore[attr-defined]
        fields["levelno"] = level
        fields["levelname"] = logging.getLevelName(level)
        fields["msg"] = msg
        if extra:
            fields.update(extra)
        return record

    def _log(self, level: int, msg: object, extra: dict[str, object] | None) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.handle(self.record(level, msg, extra))

    def info(self, msg: object, *_args: object, extra: dict[str, object] | None = None) -> None:
        """One line at INFO (the access log's level)."""
        self._log(logging.INFO, msg, extra)

    def warning(self, msg: object, *_args: object, extra: dict[str, object] | None = None) -> None:
        """One line at WARNING."""
        self._log(logging.WARNING, msg, extra)


# The standard logger behind the access log: asked first, so a level above INFO costs
# nothing per request.
_access_level = logging.getLogger("tarsify.access")


def access_logger() -> Any:
    """The access log: structlog's configured chain over ``AccessRecords``."""
    return structlog.wrap_logger(
        AccessRecords(_access_level), wrapper_class=structlog.stdlib.BoundLogger
    )


access_log = access_logger()
error_log = structlog.get_logger("tarsify.http")

# HTTP errors raised by aiohttp itself (routing, body limits) -> (code, message).
# 405 and other statuses outside the contract follow ERR_4130's pattern: ERR_ + status + 0.
HTTP_ERROR_CODES: dict[int, tuple[str, str]] = {
    400: ("ERR_2001", "Invalid request"),
    401: ("ERR_1001", "Authentication required"),
    403: ("ERR_1003", "Forbidden"),
    404: ("ERR_3001", "Resource not found"),
    405: ("ERR_4050", "Method not allowed"),
    413: ("ERR_4130", "Request body too large"),
}


# Made request ids: a random prefix per process and a counter, 32 hex digits like a
# UUID's, unique across processes without asking the kernel for randomness per request.
_ID_PREFIX = secrets.token_hex(10)
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    """A request id no other request of any process gets (32 hex digits)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


def client_gone(request: web.BaseRequest) -> bool:
    """True when the request's connection is closed or closing (the client left)."""
    return request.transport is None or request.transport.is_closing()


def mark_client_gone(request: web.Request) -> None:
    """Record that the client left before its answer was complete: the access line and
    the metrics give ``CLIENT_CLOSED_STATUS`` whatever status had been started."""
    request[CLIENT_GONE_KEY] = True


def loggable_path(request: web.Request) -> str:
    """The request's path for a log line, with anything shaped like an API key redacted."""
    path = request.path
    return API_KEY_IN_PATH_RE.sub("tsk_[redacted]", path) if "tsk_" in path else path


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per request: echo a well-formed incoming X-Request-Id or make one, and bind it to
    every log line; count and time the request in the metrics; write one structured
    access line (never headers, so never the Authorization value)."""
    started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else new_request_id()
    request[REQUEST_ID_KEY] = request_id
    # bind + reset restores the previous value like ``bound_contextvars`` does, without
    # copying the whole context on every request.
    tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
    status = 500
    try:
        response = await handler(request)
        status = CLIENT_CLOSED_STATUS if request.get(CLIENT_GONE_KEY) else response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except asyncio.CancelledError:
        # A runner that cancels the handler of a client that left: a disconnect, not a 5xx.
        if client_gone(request):
            status = CLIENT_CLOSED_STATUS
        raise
    finally:
        elapsed = time.perf_counter() - started
        record_request(request, status, elapsed)
        if _access_level.isEnabledFor(logging.INFO):
            access_log.info(
                "http.request",
                method=request.method,
                path=loggable_path(request),
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                request_id=request_id,
            )
        structlog.contextvars.reset_contextvars(**tokens)


def _error_for_http(exc: web.HTTPException) -> web.Response:
    code, message = HTTP_ERROR_CODES.get(
        exc.status, (f"ERR_{exc.status}0" if exc.status < 500 else "ERR_5001", exc.reason)
    )
    headers: dict[str, str] = {}
    details = None
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        headers["Allow"] = ", ".join(allowed)
        details = {"method": exc.method, "allowed": allowed}
    if exc.status == 404:
        message = "No route matches this path"
    if exc.status == 416 and hdrs.CONTENT_RANGE in exc.headers:
        headers[hdrs.CONTENT_RANGE] = exc.headers[hdrs.CONTENT_RANGE]
    return error_response(exc.status, code, message, details, headers=headers)


def _log_client_gone(request: web.Request) -> None:
    error_log.info("http.client_disconnected", method=request.method, path=loggable_path(request))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to the error envelope; unexpected ones are logged, never shown."""
    try:
        return await handler(request)
    except TarsifyError as exc:
        status = error_status(exc)
        if status >= 500:
            error_log.warning(
                "http.service_error",
                code=exc.code,
                error=exc.message,
                path=loggable_path(request),
                exc_info=exc.code == "ERR_5001",
            )
        headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
        return error_response(status, exc.code, exc.message, exc.details, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_for_http(exc)
    except asyncio.CancelledError:
        if client_gone(request):
            _log_client_gone(request)
        raise
    except ConnectionError:
        # A body cut short, a reset while answering: the client left, nothing failed here.
        # (A ConnectionError with the client still there is ours: the branch below.)
        if not client_gone(request):
            error_log.exception(
                "http.unhandled_exception", method=request.method, path=loggable_path(request)
            )
            return error_response(500, "ERR_5001", "Internal error")
        mark_client_gone(request)
        _log_client_gone(request)
        return web.Response(status=CLIENT_CLOSED_STATUS, reason="Client Closed Request")
    except Exception:
        error_log.exception(
            "http.unhandled_exception", method=request.method, path=loggable_path(request)
        )
        return error_response(500, "ERR_5001", "Internal error")


ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, Prefer, X-Request-Id"
# Response headers that browser scripts may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = (
    ", ".join(
        (REQUEST_ID_HEADER, "Location", "Preference-Applied", "Retry-After", "RateLimit-Policy")
    )
    + ", RateLimit"
)
ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def cors_middleware(origins: Iterable[str]) -> Middleware:
    """CORS for the configured origins (``*`` allows any); answers preflight requests."""
    allowed = frozenset(origins)
    any_origin = "*" in allowed

    def allow_origin(origin: str) -> str | None:
        if any_origin:
            return "*"
        return origin if origin in allowed else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        granted = allow_origin(origin) if origin else None
        if granted is None:
            return await handler(request)
        preflight = request.method == "OPTIONS" and (
            "Access-Control-Request-Method" in request.headers
        )
        if preflight:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers["Access-Control-Allow-Origin"] = granted
        if not any_origin:
            response.headers["Vary"] = "Origin"
        return response

    return middleware
