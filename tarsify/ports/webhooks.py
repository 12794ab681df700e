"""Consumer webhooks (they go out): which URLs may be called, sending one attempt,
and the execution document a webhook carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tarsify.domain.execution import ExecutionView


class WebhookDestinations(Protocol):
    """Decides whether a webhook URL may be called (scheme, and where its name points)."""

    async def check(self, url: str) -> None:
        """Return when ``url`` is acceptable; raise ``InvalidBody`` (ERR_2001) otherwise."""
        ...


@dataclass(slots=True, frozen=True)
class SendResult:
    """What one webhook attempt got: the HTTP status, or why there was none."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    """Sends one webhook attempt."""

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST ``body`` with ``headers``; never raises for the receiver's failures (a
        refused destination, a timeout, a refused connection are a ``SendResult``)."""
        ...


class ExecutionRenderer(Protocol):
    """The execution's JSON document exactly as ``GET /api/consumer/executions/{id}``
    answers it (file outputs as fresh signed links)."""

    async def __call__(self, view: ExecutionView) -> bytes:
        """The document, encoded as JSON."""
        ...
