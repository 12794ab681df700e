"""``MeteredGpuProvider``: any ``GpuProvider``, with every call counted and timed, labelled
with the provider the call went to (``runpod`` for a bare endpoint id, as the routing
provider reads targets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from adapters.metrics.registry import Metrics
from tarsify.domain.catalog import split_job_target
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound
from tarsify.ports.provider import (
    GpuProvider,
    HeldStreamProvider,
    JobReport,
    JobRequest,
    StreamingGpuProvider,
)

T = TypeVar("T")


def outcome_of(exc: BaseException | None) -> str:
    """The ``outcome`` label of a call that raised ``exc`` (None: it succeeded)."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, ProviderJobNotFound):
        return "not_found"
    if isinstance(exc, GpuProviderError):
        # not_sent: nothing was created (may be sent again); refused: a 4xx;
        # unknown: the request may have reached the provider.
        return exc.outcome.value.lower()
    return "exception"


class MeteredGpuProvider:
    """Decorates a ``GpuProvider``: same answers and errors, plus metrics."""

    def __init__(self, inner: GpuProvider, metrics: Metrics) -> None:
        self.inner = inner
        self._holder = inner if isinstance(inner, HeldStreamProvider) else None
        self._metrics = metrics

    async def _measure(self, operation: str, target: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            return await call()
        except BaseException as exc:  # counted, then re-raised unchanged (cancels too)
            failure = exc
            raise
        finally:
            provider = split_job_target(target)[0].value
            self._metrics.provider_seconds.labels(provider=provider, operation=operation).observe(
                time.perf_counter() - started
            )
            self._metrics.provider_calls.labels(
                provider=provider, operation=operation, outcome=outcome_of(failure)
            ).inc()

    async def submit(self, request: JobRequest) -> JobReport:
        """``inner.submit``, measured."""
        return await self._measure(
            "submit", request.endpoint_id, lambda: self.inner.submit(request)
        )

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """``inner.submit_and_wait``, measured."""
        return await self._measure(
            "submit_and_wait",
            request.endpoint_id,
            lambda: self.inner.submit_and_wait(request, wait_ms),
        )

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """``inner.status``, measured."""
        return await self._measure(
            "status", endpoint_id, lambda: self.inner.status(endpoint_id, job_id)
        )

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """``inner.stream``, measured; a provider that cannot stream reports its status
        (no chunks)."""
        inner = self.inner
        if isinstance(inner, StreamingGpuProvider):
            return await self._measure(
                "stream", endpoint_id, lambda: inner.stream(endpoint_id, job_id)
            )
        return await self.status(endpoint_id, job_id)

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """``inner.holds`` (False when the inner provider holds no streams)."""
        return self._holder is not None and self._holder.holds(endpoint_id, job_id)

    async def news(self) -> AsyncIterator[tuple[str, str]]:
        """``inner.news`` (none, ending at once, when the inner provider holds no streams)."""
        if self._holder is not None:
            async for item in self._holder.news():
                yield item

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """``inner.cancel``, measured."""
        return await self._measure(
            "cancel", endpoint_id, lambda: self.inner.cancel(endpoint_id, job_id)
        )
