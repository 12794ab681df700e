"""FalGpuProvider over real HTTP against the fake fal queue: faults, outcomes and fal's
own behaviours (the port's shared contract runs in ``test_gpu_provider.py``)."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from adapters.providers.fal.client import FalClient
from adapters.providers.fal.provider import FalGpuProvider
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import JobRequest

from .gpu_providers import EP, FAST, KEY, fal_http_harness, fal_model

NOT_SENT, REFUSED, UNKNOWN = (
    ProviderOutcome.NOT_SENT,
    ProviderOutcome.REFUSED,
    ProviderOutcome.UNKNOWN,
)


async def test_bad_key_is_a_refusal() -> None:
    async with fal_http_harness(api_key="wrong-key") as (hh, _):
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        with pytest.raises(GpuProviderError) as status_info:
            await hh.provider.status(EP, "sim/ep-json/requests/any")
    assert (info.value.outcome, info.value.status_code) == (REFUSED, 401)
    assert not isinstance(status_info.value, ProviderJobNotFound)
    assert status_info.value.status_code == 401 and len(hh.engine) == 0


async def test_a_key_revoked_meanwhile_is_a_refusal_not_a_lost_job() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        faults.unauthorize_next("status")
        with pytest.raises(GpuProviderError) as info:
            await hh.provider.status(EP, job.job_id)
    assert not isinstance(info.value, ProviderJobNotFound)
    assert (info.value.outcome, info.value.status_code) == (REFUSED, 401)


async def test_connection_refused_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = FalClient(KEY, f"http://127.0.0.1:{port}", **FAST)
    with pytest.raises(GpuProviderError) as info:
        await FalGpuProvider(client).submit(JobRequest("sim/x", {}, 1000, 1000))
    await client.close()
    assert (info.value.outcome, info.value.status_code) == (NOT_SENT, None)


@pytest.mark.parametrize(("route", "status"), [("status", 500), ("status", 502), ("result", 503)])
async def test_5xx_burst_shorter_than_retries_recovers(route: str, status: int) -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        hh.clock.advance(5)
        faults.fail_next(route, 2, status=status)
        done = await hh.provider.status(EP, job.job_id)
        assert done.status == "COMPLETED" and done.output["simulated"] is True
        assert faults.calls("submit") == 1 and faults.calls(route) == 3


async def test_a_5xx_on_submit_fails_at_once_as_not_sent() -> None:
    async with fal_http_harness() as (hh, faults):
        faults.fail_next("submit", 1, status=503)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert faults.calls("submit") == 1 and len(hh.engine) == 0
    assert (info.value.outcome, info.value.status_code) == (NOT_SENT, 503)


async def test_429_with_retry_after_is_honoured() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        faults.throttle_next("status", 1, retry_after=0.3)
        started = time.monotonic()
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert 0.25 <= time.monotonic() - started < 3
        assert [r.status for r in faults.requests] == [200, 429, 202]


async def test_a_429_on_submit_fails_at_once_with_its_retry_after() -> None:
    async with fal_http_harness(deadline_s=600) as (hh, faults):
        faults.throttle_next("submit", 1, retry_after=120)
        started = time.monotonic()
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert time.monotonic() - started < 5  # the request is not held for the wait
        assert faults.calls("submit") == 1 and len(hh.engine) == 0
    assert info.value.outcome is NOT_SENT
    assert (info.value.status_code, info.value.retry_after_s) == (429, 120.0)


async def test_429_without_retry_after_backs_off_then_succeeds() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        faults.throttle_next("status", 3)
        assert (await hh.provider.status(EP, job.job_id)).job_id == job.job_id
        assert faults.calls("status") == 4


async def test_429_for_longer_than_the_deadline_is_not_sent() -> None:
    async with fal_http_harness(deadline_s=0.5) as (hh, faults):
        job = await hh.submit()
        faults.throttle_next("status", 100)
        with pytest.raises(GpuProviderError) as info:
            await hh.provider.status(EP, job.job_id)
        assert 2 <= faults.calls("status") < 100
    assert (info.value.outcome, info.value.status_code) == (NOT_SENT, 429)


async def test_slow_submit_beyond_the_timeout_is_ambiguous() -> None:
    """An unconfirmed submit raises the same error as RunPod's: GpuProviderError, UNKNOWN."""
    async with fal_http_harness(timeout_s=0.2) as (hh, faults):
        faults.slow_next("submit", 1, delay_s=0.6)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert faults.calls("submit") == 1  # never repeated after a timeout ...
        assert len(hh.engine) == 1  # ... because the request did reach fal
        await asyncio.sleep(0.5)  # let the slow handler finish before the server closes
    assert type(info.value) is GpuProviderError
    assert (info.value.outcome, info.value.status_code) == (UNKNOWN, None)


async def test_dropped_connection_on_submit_is_ambiguous_and_not_retried() -> None:
    async with fal_http_harness() as (hh, faults):
        faults.drop_next("submit", 1)
        with pytest.raises(GpuProviderError) as info:
            await hh.submit()
        assert faults.calls("submit") == 1 and len(hh.engine) == 1
    assert info.value.outcome is UNKNOWN


async def test_slow_and_dropped_reads_are_retried() -> None:
    async with fal_http_harness(timeout_s=0.2) as (hh, faults):
        job = await hh.submit()
        faults.slow_next("status", 1, delay_s=0.5)
        faults.drop_next("cancel", 1)
        assert (await hh.provider.status(EP, job.job_id)).status == "IN_QUEUE"
        assert (await hh.provider.cancel(EP, job.job_id)).status == "CANCELLED"
        assert faults.calls("cancel") == 2
        await asyncio.sleep(0.4)


# --- fal's own behaviours ----------------------------------------------------------------


async def test_request_urls_live_under_the_app_without_the_sub_path() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        await hh.provider.status(EP, job.job_id)
    assert fal_model(EP) == "sim/ep-json/dev" and job.job_id.startswith("sim/ep-json/requests/")
    assert [r.path for r in faults.requests] == ["/sim/ep-json/dev", f"/{job.job_id}/status"]


async def test_a_result_that_expired_is_a_lost_job() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        hh.clock.advance(5)
        faults.expire_next_result()
        with pytest.raises(ProviderJobNotFound):
            await hh.provider.status(EP, job.job_id)


async def test_media_stay_urls_that_can_be_fetched_until_they_expire() -> None:
    async with fal_http_harness() as (hh, _):
        job = await hh.submit(endpoint="ep-image")
        hh.clock.advance(5)
        image = (await hh.provider.status("ep-image", job.job_id)).output["images"][0]
        async with aiohttp.ClientSession() as session:
            async with session.get(image["url"]) as fresh:
                assert fresh.status == 200 and fresh.content_type == "image/png"
            hh.clock.advance(3600)
            async with session.get(image["url"]) as expired:
                assert expired.status == 404


async def test_the_start_deadline_is_the_ttl_and_missing_it_is_timed_out() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit(input={"simulate_queue_s": 5}, ttl_ms=2000)
        assert faults.requests[0].headers["X-Fal-Request-Timeout"] == "2"
        hh.clock.advance(2.5)
        late = await hh.provider.status(EP, job.job_id)
    assert late.status == "TIMED_OUT" and late.execution_time_ms is None
    assert late.error == "Request timed out before a runner took it"


async def test_an_apps_own_timeout_is_timed_out() -> None:
    async with fal_http_harness() as (hh, _):
        job = await hh.submit(input={"simulate": "hang"})
        hh.clock.advance(1 + 3600)
        ended = await hh.provider.status(EP, job.job_id)
    assert (ended.status, ended.execution_time_ms) == ("TIMED_OUT", 3_600_000)


async def test_cancel_after_the_end_keeps_the_real_outcome() -> None:
    async with fal_http_harness() as (hh, _):
        done, failed = await hh.submit(), await hh.submit(input={"simulate": "fail"})
        hh.clock.advance(5)
        kept = await hh.provider.cancel(EP, done.job_id)
        assert kept.status == "COMPLETED" and kept.output["simulated"] is True
        still_failed = await hh.provider.cancel(EP, failed.job_id)
        assert (still_failed.status, still_failed.error) == (
            "FAILED",
            "Simulated failure requested by the input",
        )
        assert (await hh.provider.status(EP, done.job_id)).status == "COMPLETED"


async def test_a_cancel_too_late_for_the_runner_is_still_reported_cancelled() -> None:
    """Asked and accepted: the execution ends CANCELLED even if fal's runner finishes."""
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit(input={"simulate_queue_s": 0})
        faults.cancel_too_late_next()
        assert (await hh.provider.cancel(EP, job.job_id)).status == "CANCELLED"
        hh.clock.advance(5)
        assert (await hh.provider.status(EP, job.job_id)).status == "COMPLETED"


async def test_a_cancel_whose_follow_up_read_fails_is_cancelled() -> None:
    async with fal_http_harness() as (hh, faults):
        job = await hh.submit()
        faults.fail_next("status", 3, status=503)
        assert (await hh.provider.cancel(EP, job.job_id)).status == "CANCELLED"
        assert faults.calls("cancel") == 1 and faults.calls("status") == 3
        faults.clear()
        assert (await hh.provider.status(EP, job.job_id)).status == "CANCELLED"


async def test_a_wait_whose_reads_fail_returns_the_queued_job() -> None:
    """Once fal has the request, nothing in the wait may lose it to the caller."""
    async with fal_http_harness() as (hh, faults):
        faults.fail_next("status", 100, status=502)
        started = time.monotonic()
        job = await hh.provider.submit_and_wait(hh.request(), 2000)
        assert job.status == "IN_QUEUE" and time.monotonic() - started < 2
        faults.clear()
        hh.clock.advance(5)
        assert (await hh.provider.status(EP, job.job_id)).status == "COMPLETED"


async def test_a_wait_polls_until_the_request_ends() -> None:
    async with fal_http_harness() as (hh, faults):

        async def later() -> None:
            await asyncio.sleep(0.1)
            hh.clock.advance(5)

        task = asyncio.create_task(later())
        job = await hh.provider.submit_and_wait(hh.request(), 3000)
        await task
        assert job.status == "COMPLETED" and job.output["simulated"] is True
        assert faults.calls("status") >= 2 and faults.calls("result") == 1
