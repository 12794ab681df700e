"""One error hierarchy for the whole core, each error carrying a stable code.

The HTTP layer maps ``code`` to a status and the error envelope in one place
(``entrypoints/http/envelope.py``); adapters translate foreign failures into these
classes at their boundary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class TarsifyError(Exception):
    """Base of every error the core raises on purpose."""

    code = "ERR_5001"
    default_message = "Internal error"
    # Seconds after which the same request may succeed (HTTP ``Retry-After``), if known.
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


# --- authentication (ERR_1xxx) -------------------------------------------------------


class AuthenticationRequired(TarsifyError):
    """No or malformed Authorization header."""

    code, default_message = "ERR_1001", "Authentication required"


class InvalidToken(TarsifyError):
    """Token invalid, expired or issued for the other audience."""

    code, default_message = "ERR_1002", "Invalid or expired token"


class NotAdmin(TarsifyError):
    """Valid developer token whose uid is not an admin."""

    code, default_message = "ERR_1003", "Admin access required"


class UserNotRegistered(TarsifyError):
    """Valid token, but the user has not registered yet."""

    code, default_message = "ERR_1004", "User not registered"


class AlreadyRegistered(TarsifyError):
    """The user for this token is already registered."""

    code, default_message = "ERR_1005", "User already registered"


class FileLinkInvalid(TarsifyError):
    """A file URL whose signature does not match, or whose expiry has passed."""

    code, default_message = "ERR_1006", "File link invalid or expired"


# --- request validation (ERR_2xxx) ---------------------------------------------------


class InvalidBody(TarsifyError):
    """Malformed JSON, wrong types or unknown fields in a request body."""

    code, default_message = "ERR_2001", "Invalid request body"


class InvalidQuery(TarsifyError):
    """Invalid query parameters (including an unreadable cursor)."""

    code, default_message = "ERR_2002", "Invalid query parameters"


class InvalidPath(TarsifyError):
    """Invalid path parameter, such as an id that is not a UUID."""

    code, default_message = "ERR_2003", "Invalid path parameter"


class InputValidationFailed(TarsifyError):
    """Merged inputs do not satisfy the base model's input schema.

    ``details`` is a list of ``{"field": path, "message": text}``.
    """

    code, default_message = "ERR_2005", "Inputs do not satisfy the model's schema"


class ValidationBudgetSpent(InputValidationFailed):
    """Checking the inputs against the model's schema took longer than it may: the run is
    refused (422 ERR_2005), nothing stored."""

    default_message = "Checking the inputs against the model's schema took too long"

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(
            message,
            details=details
            or [{"field": "$", "message": "checking these inputs took too long; simplify them"}],
        )


# --- resources (ERR_3xxx) ------------------------------------------------------------


class NotFound(TarsifyError):
    """Generic resource not found."""

    code, default_message = "ERR_3001", "Resource not found"


class AlreadyExists(TarsifyError):
    """A resource with the same identity exists."""

    code, default_message = "ERR_3002", "Resource already exists"


class Conflict(TarsifyError):
    """The request conflicts with the current state (e.g. idempotency key reuse)."""

    code, default_message = "ERR_3003", "Resource conflict"


class TooManyApiKeys(TarsifyError):
    """The consumer already has the most active API keys allowed; revoke one first."""

    code, default_message = "ERR_3004", "Too many API keys"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"At most {limit} active API keys per consumer; revoke one to create another",
            details={"limit": limit},
        )


class _LimitReached(TarsifyError):
    """A per-consumer limit is reached (429 with Retry-After); ``what`` names the limit."""

    what = ""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"At most {limit} {self.what} at a time",
            details={"limit": limit, "retryAfterSeconds": retry_after},
        )
        self.retry_after = retry_after


class TooManyActiveExecutions(_LimitReached):
    """The consumer already has the most unfinished executions allowed; retry later."""

    code, default_message = "ERR_4290", "Too many active executions"
    what = "unfinished executions"


class TooManyOpenStreams(_LimitReached):
    """The consumer already has the most event streams open that one server process
    allows; retry once one has ended."""

    code, default_message = "ERR_4291", "Too many open event streams"
    what = "open event streams"


class _RateLimited(TarsifyError):
    """A request-rate limit is reached (429 with Retry-After); ``what`` names it."""

    what = ""

    def __init__(self, quota: int, window_s: int, retry_after: int) -> None:
        super().__init__(
            f"At most {quota} {self.what} per {window_s} seconds",
            details={"limit": quota, "windowSeconds": window_s, "retryAfterSeconds": retry_after},
        )
        self.retry_after = retry_after


class TooManyRuns(_RateLimited):
    """The consumer sent more runs than RUN_RATE_LIMIT_PER_MINUTE allows; nothing was
    stored."""

    code, default_message = "ERR_4292", "Too many runs"
    what = "runs"


class TooManyRequestsFromAddress(_RateLimited):
    """The client address sent more requests to the open routes than
    ANON_RATE_LIMIT_PER_MINUTE allows."""

    code, default_message = "ERR_4293", "Too many requests"
    what = "requests from one address"


class BodyTooLarge(TarsifyError):
    """Request body over the configured limit."""

    code, default_message = "ERR_4130", "Request body too large"


class UploadTooLarge(BodyTooLarge):
    """An uploaded file over ``MAX_UPLOAD_BYTES``: nothing was kept."""

    default_message = "File too large"


class InputsTooLarge(BodyTooLarge):
    """A run's inputs, merged with the model's configuration, are more JSON than
    ``MAX_INPUT_BYTES``: nothing was stored (large data belongs in file inputs)."""

    default_message = "Inputs too large"


# --- credits (ERR_6xxx) --------------------------------------------------------------


class InsufficientCredits(TarsifyError):
    """The consumer's balance does not cover the price of the run (``details``: price and
    balance); nothing was stored."""

    code, default_message = "ERR_6001", "Insufficient credits"


# --- infrastructure (ERR_50xx) -------------------------------------------------------


class StorageError(TarsifyError):
    """The database is unreachable or failed; adapters raise this for any storage fault.
    Worth retrying shortly (a lost connection is replaced at once)."""

    code, default_message = "ERR_5002", "Service unavailable"
    retry_after = 1


class BlobStoreUnavailable(StorageError):
    """The blob store (files of outputs) is unreachable or failed; worth retrying later."""

    default_message = "File storage unavailable"


class BlobNotFound(NotFound):
    """No file is stored under the key."""

    default_message = "File not found"


class InvalidFileKey(BlobNotFound):
    """A key no file can have (absolute, ``..``, NUL, characters outside the key alphabet);
    to a reader it is simply a file that does not exist."""

    default_message = "File not found"


class OutputDownloadFailed(TarsifyError):
    """A file the provider returned by URL could not be downloaded (refused URL, HTTP
    error, timeout, too large). It is the provider's output that failed, so it shares the
    provider's code; the engine fails the execution with ``OUTPUT_DOWNLOAD_FAILED``."""

    code, default_message = "ERR_5510", "Output file download failed"
    failure_code = "OUTPUT_DOWNLOAD_FAILED"


# --- engine (ERR_55xx) ---------------------------------------------------------------


class TarsModelNotFound(TarsifyError):
    """No such Tars model, or not visible to the caller."""

    code, default_message = "ERR_5500", "Tars model not found"


class ModelNotPublished(TarsifyError):
    """The Tars model exists but is not published."""

    code, default_message = "ERR_5501", "Model is not published"


class EndpointNotActive(TarsifyError):
    """The GPU endpoint behind the model is deactivated."""

    code, default_message = "ERR_5502", "GPU endpoint is not active"


class SlugAlreadyExists(TarsifyError):
    """Slug taken by another model."""

    code, default_message = "ERR_5503", "Slug already exists"


class InvalidStatusTransition(TarsifyError):
    """Tars model status change not allowed (``details`` lists the reasons)."""

    code, default_message = "ERR_5504", "Invalid status transition"


class ExecutionNotFound(TarsifyError):
    """No such execution, or not owned by the caller."""

    code, default_message = "ERR_5505", "Execution not found"


class ExecutionNotCancellable(TarsifyError):
    """The execution is already terminal."""

    code, default_message = "ERR_5507", "Execution is not cancellable"


class BaseModelNotFound(TarsifyError):
    """No such base model."""

    code, default_message = "ERR_5508", "Base model not found"


class BaseModelNotActive(TarsifyError):
    """The base model is deactivated."""

    code, default_message = "ERR_5509", "Base model is not active"


class ProviderOutcome(StrEnum):
    """What a failed provider call means for the job it was about.

    ``NOT_SENT``: the provider certainly did not create a job (no connection, a rate
    limit, a 5xx answer): sending again later is safe. ``REFUSED``: the provider refused
    the request (a 4xx): sending it again would be refused again. ``UNKNOWN``: the request
    may have reached the provider (a timeout, a dropped connection): a job may exist.
    """

    NOT_SENT = "NOT_SENT"
    REFUSED = "REFUSED"
    UNKNOWN = "UNKNOWN"


class GpuProviderError(TarsifyError):
    """The GPU provider failed after retries.

    ``outcome`` says whether a job may have been created (see ``ProviderOutcome``);
    ``status_code`` is the provider's HTTP status when there was one; ``retry_after_s``
    is how long the provider asked us to wait (a rate limit's Retry-After).
    """

    code, default_message = "ERR_5510", "GPU provider error"

    def __init__(
        self,
        message: str | None = None,
        *,
        outcome: ProviderOutcome = ProviderOutcome.UNKNOWN,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.outcome = outcome
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class ProviderJobNotFound(GpuProviderError):
    """The provider no longer knows the job (expired results, unknown id)."""

    default_message = "GPU provider does not know the job"

    def __init__(self, message: str | None = None, *, status_code: int | None = 404) -> None:
        super().__init__(message, outcome=ProviderOutcome.REFUSED, status_code=status_code)
