"""RunPodGpuProvider over real HTTP: authentication and the fake RunPod API's faults.

What every provider must do is ``test_gpu_provider.py``; this is what only RunPod's wire
has (its API key, 429s and ``Retry-After``, 5xx bursts, timeouts, dropped connections,
its payload limit) and how the adapter classifies each (``ProviderOutcome``).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import JobRequest

from .gpu_providers import EP, FAST, KEY, runpod_http_harness


async def test_bad_api_key_is_a_refusal() -> None:
    async with runpod_http_harness(api_key="wrong-key") as hh:
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        with pytest.raises(GpuProviderError) as status_info:
            await hh.provider.status(EP, "any-u1")
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 401)
    assert not isinstance(status_info.value, ProviderJobNotFound)
    assert len(hh.engine) == 0


async def test_connection_refused_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RunPodClient(KEY, f"http://127.0.0.1:{port}", **FAST)
    with pytest.raises(GpuProviderError) as info:
        await RunPodGpuProvider(client).submit(JobRequest(EP, {}, 1000, 1000))
    await client.close()
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, None)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_burst_shorter_than_retries_recovers(status: int) -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.fail_next("status", 2, status=status)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert hh.faults.calls("run") == 1 and hh.faults.calls("status") == 3


async def test_a_5xx_on_submit_fails_at_once_as_not_sent() -> None:
    """A submit is never retried in the call (its caller sends it again later)."""
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        hh.faults.fail_next("run", 1, status=503)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 503)


async def test_429_with_retry_after_is_honoured() -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.throttle_next("status", 1, retry_after=0.3)
        started = time.monotonic()
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        elapsed = time.monotonic() - started
        assert hh.faults.calls("status") == 2
        assert 0.25 <= elapsed < 3
        assert [r.status for r in hh.faults.requests] == [200, 429, 200]


async def test_a_short_429_on_submit_fails_at_once_with_its_retry_after() -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("run", 1, retry_after=0.3)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 429)
    assert info.value.retry_after_s == 0.3


async def test_429_without_retry_after_backs_off_then_succeeds() -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("status", 3)
        job = await hh.submit()
        assert (await hh.provider.status(EP, job.job_id)).job_id == job.job_id
        assert hh.faults.calls("status") == 4


async def test_429_for_longer_than_the_deadline_is_not_sent() -> None:
    async with runpod_http_harness(deadline_s=0.5) as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.throttle_next("status", 100)
        with pytest.raises(GpuProviderError) as info:
            await hh.provider.status(EP, job.job_id)
        assert 2 <= hh.faults.calls("status") < 100
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.NOT_SENT, 429)


async def test_long_retry_after_on_submit_fails_at_once_with_the_delay() -> None:
    async with runpod_http_harness(deadline_s=600) as hh:
        assert hh.faults is not None
        hh.faults.throttle_next("run", 1, retry_after=120)
        started = time.monotonic()
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert time.monotonic() - started < 5  # the request is not held for the wait
        assert hh.faults.calls("run") == 1 and len(hh.engine) == 0
    assert info.value.outcome is ProviderOutcome.NOT_SENT
    assert (info.value.status_code, info.value.retry_after_s) == (429, 120.0)


async def test_slow_submit_beyond_the_timeout_is_ambiguous() -> None:
    async with runpod_http_harness(timeout_s=0.2) as hh:
        assert hh.faults is not None
        hh.faults.slow_next("run", 1, delay_s=0.6)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1  # a submit is never repeated after a timeout
        assert len(hh.engine) == 1  # ... because the job did reach the provider
        await asyncio.sleep(0.5)  # let the slow handler finish before the server closes
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.UNKNOWN, None)


async def test_slow_status_is_retried() -> None:
    async with runpod_http_harness(timeout_s=0.2) as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.slow_next("status", 1, delay_s=0.5)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert hh.faults.calls("status") == 2
        await asyncio.sleep(0.4)


async def test_dropped_connection_on_status_is_retried() -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        job = await hh.submit()
        hh.faults.drop_next("status", 1)
        hh.faults.drop_next("cancel", 1)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert (await hh.provider.cancel(EP, job.job_id)).status == "CANCELLED"
        assert hh.faults.calls("status") == 2 and hh.faults.calls("cancel") == 2


async def test_dropped_connection_on_submit_is_ambiguous_and_not_retried() -> None:
    async with runpod_http_harness() as hh:
        assert hh.faults is not None
        hh.faults.drop_next("run", 1)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert hh.faults.calls("run") == 1 and len(hh.engine) == 1
    assert info.value.outcome is ProviderOutcome.UNKNOWN


async def test_payload_over_10_mb_is_refused() -> None:
    async with runpod_http_harness() as hh:
        with pytest.raises(GpuProviderError) as info:
            await hh.submit(input={"blob": "x" * (10 * 1024 * 1024 + 1)})
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 413)
