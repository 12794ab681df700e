"""What is sent to a GPU provider and what it reports back: domain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tarsify.domain.models import ExecutionStatus, OutputType
from tarsify.domain.states import map_provider_status


@dataclass(slots=True, frozen=True)
class JobRequest:
    """A job to run on a provider endpoint.

    ``execution_timeout_ms`` caps the run time and ``ttl_ms`` the whole life of the job
    (queue included) at the provider. ``output_type`` is a hint that only simulated
    providers use to shape their output. ``callback_url``, when set, is where the
    provider may announce that the job finished (the announcement is only a hint to
    re-read the job's status). ``streaming`` says the worker yields chunks (read with
    ``StreamingGpuProvider.stream``): simulated providers shape their jobs by it, and fal
    runs such a job on its ``fal.run`` stream, held open (``HeldStreamProvider``).
    """

    endpoint_id: str
    input: dict[str, Any]
    execution_timeout_ms: int
    ttl_ms: int
    output_type: OutputType = OutputType.JSON
    callback_url: str | None = None
    streaming: bool = False


@dataclass(slots=True, frozen=True)
class JobReport:
    """What the provider says about a job right now.

    ``status`` is the provider's raw status text (``IN_QUEUE``, ``IN_PROGRESS``, ...);
    ``execution_status`` maps it (None when unknown: an unknown status changes nothing).
    Times are milliseconds. ``error`` is a human-readable message, never a traceback.
    ``output`` is whatever the worker returned: ``Execution.apply`` makes it storable.
    ``progress`` is the worker's latest progress report while the job runs (None when it
    gave none); ``chunks`` are the output chunks a stream read returned, in order.
    ``logs`` are the job's log lines so far as the provider gives them (None when it
    reports none: RunPod), ``queue_position`` its place in the provider's queue while it
    waits (None when not given).
    """

    job_id: str
    status: str
    output: Any = None
    error: str | None = None
    delay_time_ms: int | None = None
    execution_time_ms: int | None = None
    progress: Any = None
    chunks: tuple[Any, ...] = ()
    logs: Any = None
    queue_position: int | None = None

    @property
    def execution_status(self) -> ExecutionStatus | None:
        """The execution status this report means, or None for an unknown status."""
        return map_provider_status(self.status)

    @property
    def is_final(self) -> bool:
        """True when the provider reports a terminal status."""
        mapped = self.execution_status
        return mapped is not None and mapped.is_terminal
