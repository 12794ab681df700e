"""The GPU provider a job is sent to, and the URL it calls back when a job changes
(provider callbacks come in; consumer webhooks go out: ``tarsify.ports.webhooks``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tarsify.domain.jobs import JobReport, JobRequest

__all__ = [
    "CallbackUrlBuilder",
    "GpuProvider",
    "HeldStreamProvider",
    "JobReport",
    "JobRequest",
    "StreamingGpuProvider",
]
# JobReport, JobRequest re-exported: adapters implement the port with them


class GpuProvider(Protocol):
    """A serverless GPU provider (RunPod, the local simulator, a test fake).

    Every method raises ``GpuProviderError`` (``ProviderJobNotFound`` for an unknown or
    expired job) and nothing else.
    """

    async def submit(self, request: JobRequest) -> JobReport:
        """Queue a job; returns its id and first status."""
        ...

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        """Queue a job and wait up to ``wait_ms`` for it; may return a non-terminal status."""
        ...

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        """Current status of a job, with output or error once it is final."""
        ...

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        """Ask the provider to cancel a job; returns the status it reports."""
        ...


@runtime_checkable
class StreamingGpuProvider(GpuProvider, Protocol):
    """A provider that can read the chunks a streaming worker yields (RunPod's
    ``/stream``). Providers without it are only asked ``status``."""

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        """The chunks yielded since the previous call, in order (``JobReport.chunks``;
        consumed: a second reader does not see them again), and the job's status. A
        finished job's output is read with ``status``."""
        ...


@runtime_checkable
class HeldStreamProvider(StreamingGpuProvider, Protocol):
    """A provider some of whose streaming jobs are connections held open by the process
    that sent them (fal's ``fal.run`` streams: outside any queue, so they end with that
    process). Only the holder can read, ask or stop such a job: elsewhere ``stream``,
    ``status`` and ``cancel`` raise ``ProviderJobNotFound``. The engine keeps the job's
    stream lease while its holder lives (renewed with each read), so no other process asks
    about it until the lease has expired: the holder is then gone, and so is the job."""

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        """True when the job is a held connection and this process holds it."""
        ...

    def news(self) -> AsyncIterator[tuple[str, str]]:
        """``(endpoint_id, job_id)`` of a held job soon after it yielded chunks or ended,
        and at least every ``HELD_HEARTBEAT_S`` seconds while it is held; never ends
        (cancelled with its task), unless the provider holds no streams at all (then at
        once)."""
        ...


# A held job is announced at least this often (``HeldStreamProvider.news``): shorter than
# the stream lease (``EngineSettings.stream_lease_s``), which each read renews.
HELD_HEARTBEAT_S = 15.0


class CallbackUrlBuilder(Protocol):
    """Builds the URL a provider calls back when a job changes (configured only when
    provider callbacks are on)."""

    def url_for(self, execution_id: uuid.UUID) -> str:
        """The callback URL to put on the job of ``execution_id``."""
        ...
