"""The routing GpuProvider: each job to its target's provider, and the settings that
choose the providers."""

from __future__ import annotations

import pytest

from adapters.memory.gpu import FakeGpuProvider
from adapters.providers.routing import RoutingGpuProvider
from entrypoints.config import Settings
from tarsify.domain.catalog import Provider, job_target, split_job_target
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobReport, JobRequest


def request(target: str) -> JobRequest:
    return JobRequest(target, {"prompt": "x"}, 60_000, 600_000, OutputType.JSON)


def test_targets_name_the_provider_and_runpod_ids_stay_bare() -> None:
    assert job_target(Provider.RUNPOD, "rp-1") == "rp-1"
    assert job_target(Provider.FAL, "fal-ai/flux/dev") == "fal:fal-ai/flux/dev"
    assert split_job_target("fal:fal-ai/flux/dev") == (Provider.FAL, "fal-ai/flux/dev")
    assert split_job_target("rp-1") == (Provider.RUNPOD, "rp-1")
    assert split_job_target("odd:thing") == (Provider.RUNPOD, "odd:thing")


async def test_each_job_reaches_its_providers_adapter_with_its_own_id() -> None:
    runpod, fal = FakeGpuProvider(), FakeGpuProvider()
    router = RoutingGpuProvider({Provider.RUNPOD: runpod, Provider.FAL: fal})
    on_fal = await router.submit(request("fal:fal-ai/flux/dev"))
    on_runpod = await router.submit(request("rp-1"))
    assert [j.request.endpoint_id for j in fal.jobs.values()] == ["fal-ai/flux/dev"]
    assert [j.request.endpoint_id for j in runpod.jobs.values()] == ["rp-1"]
    assert (await router.cancel("rp-1", on_runpod.job_id)).job_id == on_runpod.job_id
    assert runpod.calls["cancel"] == 1 and fal.calls["cancel"] == 0
    # fal's webhook names a bare request id: the adapter is asked with its full job id.
    with pytest.raises(ProviderJobNotFound, match="fal-ai/flux/requests/req-7"):
        await router.status("fal:fal-ai/flux/dev", "req-7")
    assert fal.calls["status"] == 1 and on_fal.job_id in fal.jobs


async def test_a_provider_without_an_adapter_is_a_refusal_before_any_call() -> None:
    router = RoutingGpuProvider({Provider.RUNPOD: FakeGpuProvider()})
    with pytest.raises(GpuProviderError) as info:
        await router.submit(request("fal:fal-ai/flux/dev"))
    assert info.value.outcome is ProviderOutcome.REFUSED


def test_gpu_provider_real_runs_each_provider_with_credentials() -> None:
    simulated = Settings.from_variables()
    assert simulated.gpu.reachable_providers() == frozenset(Provider)
    fal_only = Settings.from_variables(GPU_PROVIDER="real", FAL_KEY="k")
    assert fal_only.gpu.reachable_providers() == {Provider.FAL}
    both = Settings.from_variables(GPU_PROVIDER="runpod", RUNPOD_API_KEY="r", FAL_KEY="k")
    assert both.gpu.reachable_providers() == {Provider.RUNPOD, Provider.FAL}
    assert both.gpu.fal_queue_url == "https://queue.fal.run"
    assert both.gpu.fal_run_url == "https://fal.run"
    with pytest.raises(ValueError, match="RUNPOD_API_KEY or FAL_KEY is required"):
        Settings.from_variables(GPU_PROVIDER="real")


class _StatusOnly:
    """A provider that cannot stream (fal's queue): status, nothing else asked here."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        self.asked.append((endpoint_id, job_id))
        return JobReport(job_id=job_id, status="IN_PROGRESS", logs=[{"message": "step 1"}])


async def test_a_stream_read_of_a_provider_that_cannot_stream_is_its_status() -> None:
    fal = _StatusOnly()
    router = RoutingGpuProvider({Provider.FAL: fal})  # type: ignore[dict-item]
    job = "fal-ai/flux/requests/req-1"
    report = await router.stream("fal:fal-ai/flux/dev", job)
    assert fal.asked == [("fal-ai/flux/dev", job)]
    assert (report.status, report.chunks) == ("IN_PROGRESS", ())
    assert report.logs == [{"message": "step 1"}]  # what a status read says, logs too
