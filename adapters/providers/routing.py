"""``RoutingGpuProvider``: one ``GpuProvider`` over several, each endpoint's provider
picking the adapter.

The engine sends every job to a target (``tarsify.domain.catalog.job_target``): a RunPod
endpoint id alone, or another provider's id prefixed with its name
(``fal:fal-ai/fast-sdxl``). The execution stores that target with its job, so status,
cancel and reconciliation reach the provider the job went to whatever becomes of the
endpoint. Each adapter receives its own id, without the prefix; its reports pass
through unchanged. A target whose provider has no adapter here (no credentials) is a
refusal: nothing was sent. Every log line written during a call carries the provider
(``provider``), as the metrics do (``adapters.metrics.provider``).

Held streams (``HeldStreamProvider``): ``holds`` asks the adapter of the target's
provider (False when it holds none), ``news`` merges the adapters' announcements, each
named by its target (``fal:fal-ai/any-llm``) so it can be passed back to ``stream``,
``status`` and ``cancel``.

fal's webhook names a request by its bare request id, where the fal adapter's job ids are
the request's path (``adapters.providers.fal.provider``): ``status`` and ``cancel`` of a
fal target accept either, and the report names the job by its full id.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping

from structlog.contextvars import bound_contextvars

from adapters.providers.fal.provider import fal_job_id
from tarsify.domain.catalog import Provider, job_target, split_job_target
from tarsify.domain.errors import GpuProviderError, ProviderOutcome
from tarsify.ports.provider import (
    GpuProvider,
    HeldStreamProvider,
    JobReport,
    JobRequest,
    StreamingGpuProvider,
)


class RoutingGpuProvider:
    """The GpuProvider port over one adapter per provider."""

    def __init__(self, adapters: Mapping[Provider, GpuProvider]) -> None:
        self.adapters = dict(adapters)
        # The adapters that hold streams, found once (a protocol check is not free).
        self._holders = {
            p: a for p, a in self.adapters.items() if isinstance(a, HeldStreamProvider)
        }

    @property
    def providers(self) -> frozenset[Provider]:
        """The providers jobs can be sent to."""
        return frozenset(self.adapters)

    async def submit(self, request: JobRequest) -> JobReport:
        """``submit`` on the target's provider."""
        provider, adapter, own = self._route(request.endpoint_id)
        with bound_contextvars(provider=provider.value):
            return await adapter.submit(dataclasses.replace(request, endpoint_id=own))

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """``submit_and_wait`` on the target's provider."""
        provider, adapter, own = self._route(request.endpoint_id)
        with bound_contextvars(provider=provider.value):
            return await adapter.submit_and_wait(
                dataclasses.replace(request, endpoint_id=own), wait_ms
            )

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """``status`` on the provider the job went to."""
        provider, adapter, own = self._route(endpoint_id)
        with bound_contextvars(provider=provider.value):
            return await adapter.status(own, _job_id(provider, own, job_id))

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """``stream`` on the provider the job went to; its ``status`` (no chunks) when
        that provider cannot stream."""
        provider, adapter, own = self._route(endpoint_id)
        with bound_contextvars(provider=provider.value):
            if isinstance(adapter, StreamingGpuProvider):
                return await adapter.stream(own, _job_id(provider, own, job_id))
            return await adapter.status(own, _job_id(provider, own, job_id))

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """``cancel`` on the provider the job went to."""
        provider, adapter, own = self._route(endpoint_id)
        with bound_contextvars(provider=provider.value):
            return await adapter.cancel(own, _job_id(provider, own, job_id))

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """True when the adapter of the target's provider holds the job."""
        if not self._holders:
            return False
        provider, own = split_job_target(endpoint_id)
        adapter = self._holders.get(provider)
        return adapter is not None and adapter.holds(own, _job_id(provider, own, job_id))

    async def news(self) -> AsyncIterator[tuple[str, str]]:
        """Every adapter's held-stream news, each job named by its target; never ends,
        unless no adapter holds streams (then at once)."""
        held: dict[int, tuple[Provider, HeldStreamProvider]] = {}
        for provider, adapter in self._holders.items():  # an adapter once
            held.setdefault(id(adapter), (provider, adapter))
        if not held:
            return
        found: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

        async def pump(provider: Provider, adapter: HeldStreamProvider) -> None:
            async for own, job_id in adapter.news():
                found.put_nowait((job_target(provider, own), job_id))

        pumps = [asyncio.create_task(pump(p, a)) for p, a in held.values()]
        try:
            while True:
                yield await found.get()
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    def _route(self, target: str) -> tuple[Provider, GpuProvider, str]:
        provider, own = split_job_target(target)
        adapter = self.adapters.get(provider)
        if adapter is None:
            raise GpuProviderError(
                f"No credentials are configured for the provider {provider.value}",
                outcome=ProviderOutcome.REFUSED,
            )
        return provider, adapter, own


def _job_id(provider: Provider, own: str, job_id: str) -> str:
    """The adapter's job id of ``job_id``, which may be fal's bare request id."""
    if provider is Provider.FAL and job_id and "/" not in job_id and " " not in job_id:
        return fal_job_id(own, job_id)
    return job_id
