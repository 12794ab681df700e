"""MeteredGpuProvider and MeteredReconciler: same behaviour as what they wrap, measured."""

from __future__ import annotations

import pytest

from adapters.memory.clock import ManualClock
from adapters.memory.gpu import FakeGpuProvider
from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from entrypoints.process.metered_reconciler import MeteredReconciler
from tarsify.domain.errors import (
    GpuProviderError,
    ProviderJobNotFound,
    ProviderOutcome,
    StorageError,
)
from tarsify.domain.execution import Execution
from tarsify.domain.models import OutputType
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import JobRequest
from tests.metrics_text import value
from tests.unit.world import make_world

REQUEST = JobRequest(
    endpoint_id="ep",
    input={"prompt": "x"},
    execution_timeout_ms=60_000,
    ttl_ms=600_000,
    output_type=OutputType.JSON,
)
CALLS = "tarsify_gpu_provider_calls_total"


async def test_every_outcome_is_counted_and_errors_pass_through_unchanged() -> None:
    fake, metrics = FakeGpuProvider(), Metrics()
    provider = MeteredGpuProvider(fake, metrics)
    job = await provider.submit(REQUEST)
    assert fake.jobs[job.job_id].request == REQUEST
    await provider.status("ep", job.job_id)
    refused = GpuProviderError("refused", outcome=ProviderOutcome.REFUSED, status_code=400)
    fake.fail_next("submit", refused)
    with pytest.raises(GpuProviderError) as info:
        await provider.submit(REQUEST)
    assert info.value is refused
    fake.fail_next("submit_and_wait", GpuProviderError("timed out"))
    limited = GpuProviderError("429", outcome=ProviderOutcome.NOT_SENT, status_code=429)
    fake.fail_next("status", limited)
    with pytest.raises(GpuProviderError):
        await provider.status("ep", job.job_id)
    with pytest.raises(GpuProviderError):
        await provider.submit_and_wait(REQUEST, 1000)
    with pytest.raises(ProviderJobNotFound):
        await provider.cancel("ep", "no-such-job")
    with pytest.raises(ProviderJobNotFound):
        await provider.status("fal:fal-ai/fast-sdxl", "no-such-job")

    text = metrics.render().decode()
    assert value(text, CALLS, provider="runpod", operation="submit", outcome="ok") == 1
    assert value(text, CALLS, provider="runpod", operation="status", outcome="ok") == 1
    assert value(text, CALLS, provider="runpod", operation="submit", outcome="refused") == 1
    assert (
        value(text, CALLS, provider="runpod", operation="submit_and_wait", outcome="unknown") == 1
    )
    assert value(text, CALLS, provider="runpod", operation="status", outcome="not_sent") == 1
    assert value(text, CALLS, provider="runpod", operation="cancel", outcome="not_found") == 1
    assert value(text, CALLS, provider="fal", operation="status", outcome="not_found") == 1
    seconds = "tarsify_gpu_provider_call_seconds_count"
    assert value(text, seconds, provider="runpod", operation="submit") == 2
    assert fake.calls["submit"] == 2


async def test_reconcile_passes_execution_errors_and_failed_passes_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ManualClock()
    w = await make_world(clock)
    metrics = Metrics()
    reconciler = MeteredReconciler(
        w.store.unit_of_work, w.dispatcher, clock, w.settings, metrics=metrics
    )
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "a"}))
    clock.advance(5)

    async def poll_fails(execution: Execution) -> Execution:
        # The dispatcher absorbs provider failures; a rule broken mid-advance does not.
        raise GpuProviderError(f"cannot advance {execution.id}")

    monkeypatch.setattr(w.dispatcher, "poll", poll_fails)
    report = await reconciler.run_once()
    assert report.errors == 1
    w.store.down = True
    with pytest.raises(StorageError):
        await reconciler.run_once()
    text = metrics.render().decode()
    assert value(text, "tarsify_reconcile_pass_seconds_count") == 2
    assert value(text, "tarsify_reconcile_errors_total", kind="execution") == 1
    assert value(text, "tarsify_reconcile_errors_total", kind="pass") == 1
