"""Fault knobs of the fake fal queue: what goes wrong on the next calls, and a request log.

Per route (``submit``, ``status``, ``result``, ``cancel``, ``stream``: a ``fal.run``
stream; ``"*"`` matches every route),
faults are consumed in order: an error status (5xx, 429 with an optional Retry-After,
401 as for a revoked key), a slow answer (the work is done, the answer is late) or a
dropped connection (the work is done, no answer at all). Two fal-specific knobs act in the
handlers: a result whose stored payload has expired (404 from then on) and a
cancellation that comes too late (202 ``CANCELLATION_REQUESTED``, yet the request runs to
its end). ``webhooks = False`` keeps the fake from calling ``fal_webhook`` URLs (see
``fal_webhooks``). Streams (``fal_streams``): ``stream_break_after`` cuts every stream's
connection after that many events, ``without_stream`` names the models whose app has no
``/stream`` endpoint (404). The shared knobs are those of ``faults``. Tests may change the plan
while the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.providers.simulator.faults import Fault, RequestRecord, RouteFaults

__all__ = ["ROUTES", "FalFaultPlan", "Fault", "RequestRecord"]

ROUTES = ("submit", "status", "result", "cancel", "stream")


@dataclass
class FalFaultPlan(RouteFaults):
    """Faults to inject; ``latency_s`` delays every answer; ``requests`` logs every call."""

    routes = ROUTES

    late_cancels: int = 0
    expired_results: int = 0
    # Call the ``fal_webhook`` of a request when it completes (fal does); False: never.
    webhooks: bool = True
    # Cut each stream's connection (no final event) after this many events; None: never.
    stream_break_after: int | None = None
    # Models whose app has no ``/stream`` endpoint: their stream is refused with 404.
    without_stream: set[str] = field(default_factory=set)

    def unauthorize_next(self, route: str = "*", times: int = 1) -> None:
        """Answer the next ``times`` requests with 401, as for a key revoked meanwhile."""
        self._add(route, times, Fault("status", status=401))

    def expire_next_result(self, times: int = 1) -> None:
        """The next ``times`` result reads find the request's payload expired (404)."""
        self.expired_results += times

    def cancel_too_late_next(self, times: int = 1) -> None:
        """The next ``times`` cancellations are accepted but reach the runner too late."""
        self.late_cancels += times

    def clear(self) -> None:
        """Forget pending faults, the request log and the fal-specific knobs."""
        super().clear()
        self.late_cancels = self.expired_results = 0
        self.webhooks = True
        self.stream_break_after = None
        self.without_stream.clear()

    def take_expired_result(self) -> bool:
        """True (once per knob count) when this result read finds the payload expired."""
        if self.expired_results <= 0:
            return False
        self.expired_results -= 1
        return True

    def take_late_cancel(self) -> bool:
        """True (once per knob count) when this cancellation comes too late."""
        if self.late_cancels <= 0:
            return False
        self.late_cancels -= 1
        return True
