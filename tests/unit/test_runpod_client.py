"""RunPodClient and RunPodGpuProvider against mocked HTTP (aioresponses)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses as _aioresponses
from structlog.testing import capture_logs
from yarl import URL

from adapters.providers.runpod.client import RunPodClient, RunPodError, RunPodJobNotFound
from adapters.providers.runpod.provider import RunPodGpuProvider, clean_error, snapshot_from_status
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.ports.provider import JobRequest

NOT_SENT, REFUSED, UNKNOWN = (
    ProviderOutcome.NOT_SENT,
    ProviderOutcome.REFUSED,
    ProviderOutcome.UNKNOWN,
)


BASE = "https://runpod.test/v2"
KEY = "rp-unit-test-key-123"
RUN = f"{BASE}/ep1/run"
STATUS = f"{BASE}/ep1/status/job-1-u1"
REQUEST = JobRequest("ep1", {"prompt": "a cat"}, execution_timeout_ms=60_000, ttl_ms=3_600_000)


class _Response(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates the ``stream_writer`` argument aiohttp 3.14 requires."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class aioresponses(_aioresponses):
    """aioresponses whose mocked answers build on aiohttp 3.14."""

    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.setdefault("response_class", _Response)
        super().add(url, method, **kwargs)


@pytest.fixture
async def client() -> AsyncIterator[RunPodClient]:
    rp = RunPodClient(KEY, BASE, timeout_s=1, retry_delay_s=0.01, deadline_s=5)
    yield rp
    await rp.close()


def calls(mock: _aioresponses, method: str, url: str) -> list[Any]:
    return list(mock.requests.get((method, URL(url)), []))


async def fails(call: Awaitable[Any]) -> RunPodError:
    with pytest.raises(RunPodError) as info:
        await call
    return info.value


async def test_run_sends_input_and_policy_with_bearer_key(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.post(RUN, payload={"id": "job-1-u1", "status": "IN_QUEUE"})
        snapshot = await RunPodGpuProvider(client).submit(REQUEST)
        (call,) = calls(mock, "POST", RUN)
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {KEY}"
    assert json.loads(call.kwargs["data"]) == {
        "input": {"prompt": "a cat"},
        "policy": {"executionTimeout": 60_000, "ttl": 3_600_000},
    }
    assert (snapshot.job_id, snapshot.status) == ("job-1-u1", "IN_QUEUE")


async def test_runsync_sends_the_wait(client: RunPodClient) -> None:
    url = f"{BASE}/ep1/runsync?wait=2500"
    with aioresponses() as mock:
        mock.post(url, payload={"id": "j", "status": "IN_PROGRESS"})
        snapshot = await RunPodGpuProvider(client).submit_and_wait(REQUEST, 2500)
        assert len(calls(mock, "POST", url)) == 1
    assert snapshot.status == "IN_PROGRESS"


async def test_5xx_burst_shorter_than_retries_recovers(client: RunPodClient) -> None:
    with aioresponses() as mock:
        for status in (500, 503):
            mock.get(STATUS, status=status)
        mock.get(STATUS, payload={"id": "job-1-u1", "status": "COMPLETED", "output": 1})
        assert (await client.status("ep1", "job-1-u1"))["output"] == 1
        assert len(calls(mock, "GET", STATUS)) == 3


async def test_a_5xx_on_run_is_not_sent_at_once(client: RunPodClient) -> None:
    """A submit is never retried in the call: the caller sends it again later, so the
    run request that made it is not held by the retry delay."""
    with aioresponses() as mock:
        mock.post(RUN, status=502, repeat=True)
        error = await fails(client.run("ep1", {"input": {}}))
        assert len(calls(mock, "POST", RUN)) == 1
    assert (error.http_status, error.outcome) == (502, NOT_SENT)


@pytest.mark.parametrize("submit", ["run", "runsync"])
async def test_a_short_429_on_a_submit_fails_at_once_with_its_retry_after(
    client: RunPodClient, submit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def recording_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    url = RUN if submit == "run" else f"{BASE}/ep1/runsync?wait=1000"
    with aioresponses() as mock:
        mock.post(url, status=429, headers={"Retry-After": "0.2"})
        mock.post(url, payload={"id": "j", "status": "IN_QUEUE"})
        call = client.run("ep1", {}) if submit == "run" else client.runsync("ep1", {}, 1000)
        error = await fails(call)
        assert len(calls(mock, "POST", url)) == 1
    assert (error.http_status, error.outcome, error.retry_after_s) == (429, NOT_SENT, 0.2)
    assert waits == []


async def test_429_honours_retry_after(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.get(STATUS, status=429, headers={"Retry-After": "0.2"})
        mock.get(STATUS, payload={"id": "job-1-u1", "status": "IN_QUEUE"})
        started = time.monotonic()
        await client.status("ep1", "job-1-u1")
        assert time.monotonic() - started >= 0.18
        assert len(calls(mock, "GET", STATUS)) == 2


async def test_429_without_retry_after_backs_off_exponentially(
    client: RunPodClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    with aioresponses() as mock:
        for _ in range(3):
            mock.get(STATUS, status=429)
        mock.get(STATUS, payload={"id": "job-1-u1", "status": "IN_QUEUE"})
        await client.status("ep1", "job-1-u1")
        assert len(calls(mock, "GET", STATUS)) == 4
    assert waits == pytest.approx([0.01, 0.02, 0.04])


async def test_long_429_fails_at_once_as_not_sent_with_its_retry_after() -> None:
    rp = RunPodClient(KEY, BASE, retry_delay_s=0.01, deadline_s=600)
    with aioresponses() as mock:
        mock.post(RUN, status=429, headers={"Retry-After": "30"})
        started = time.monotonic()
        error = await fails(rp.run("ep1", {"input": {}}))
        assert time.monotonic() - started < 1
        assert len(calls(mock, "POST", RUN)) == 1
    await rp.close()
    assert (error.http_status, error.outcome, error.retry_after_s) == (429, NOT_SENT, 30.0)


async def test_deadline_bounds_5xx_retries() -> None:
    rp = RunPodClient(KEY, BASE, retries_5xx=10, retry_delay_s=0.2, deadline_s=0.5)
    with aioresponses() as mock:
        mock.get(STATUS, status=503, repeat=True)
        error = await fails(rp.status("ep1", "job-1-u1"))
        assert 2 <= len(calls(mock, "GET", STATUS)) <= 3
    await rp.close()
    assert error.http_status == 503


async def test_timeouts_are_not_retried_on_run(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.post(RUN, exception=TimeoutError(), repeat=True)
        error = await fails(client.run("ep1", {"input": {}}))
        assert len(calls(mock, "POST", RUN)) == 1
    assert (error.http_status, error.outcome) == (None, UNKNOWN)


async def test_dropped_connections_are_not_retried_on_runsync(client: RunPodClient) -> None:
    url = f"{BASE}/ep1/runsync?wait=1000"
    with aioresponses() as mock:
        mock.post(url, exception=aiohttp.ServerDisconnectedError(), repeat=True)
        error = await fails(client.runsync("ep1", {"input": {}}, 1000))
        assert len(calls(mock, "POST", url)) == 1
    assert error.outcome is UNKNOWN


async def test_timeouts_and_drops_are_retried_on_status_and_cancel(client: RunPodClient) -> None:
    cancel = f"{BASE}/ep1/cancel/job-1-u1"
    with aioresponses() as mock:
        mock.get(STATUS, exception=TimeoutError())
        mock.get(STATUS, payload={"id": "job-1-u1", "status": "IN_QUEUE"})
        mock.post(cancel, exception=aiohttp.ServerDisconnectedError())
        mock.post(cancel, payload={"id": "job-1-u1", "status": "CANCELLED"})
        assert (await client.status("ep1", "job-1-u1"))["status"] == "IN_QUEUE"
        assert (await client.cancel("ep1", "job-1-u1"))["status"] == "CANCELLED"
        assert len(calls(mock, "GET", STATUS)) == len(calls(mock, "POST", cancel)) == 2


async def test_4xx_is_a_refusal_and_not_retried(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.post(RUN, status=400, payload={"error": "input is required"}, repeat=True)
        error = await fails(client.run("ep1", {}))
        assert len(calls(mock, "POST", RUN)) == 1
    assert (error.http_status, error.outcome) == (400, REFUSED)
    assert "input is required" in error.message


async def test_refusal_after_a_5xx_on_cancel_is_a_refusal(client: RunPodClient) -> None:
    cancel = f"{BASE}/ep1/cancel/job-1-u1"
    with aioresponses() as mock:
        mock.post(cancel, status=500)
        mock.post(cancel, status=400)
        error = await fails(client.cancel("ep1", "job-1-u1"))
    # A 5xx changed nothing, so the 400 decides.
    assert (error.http_status, error.outcome) == (400, REFUSED)


async def test_refusal_after_a_timeout_on_status_stays_unknown(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.get(STATUS, exception=TimeoutError())
        mock.get(STATUS, status=400)
        error = await fails(client.status("ep1", "job-1-u1"))
    # The first attempt may have reached RunPod, whatever the second one says.
    assert (error.http_status, error.outcome) == (400, UNKNOWN)


async def test_404_on_status_is_job_not_found_but_not_on_run(client: RunPodClient) -> None:
    with aioresponses() as mock:
        mock.get(STATUS, status=404)
        mock.post(RUN, status=404)
        with pytest.raises(RunPodJobNotFound):
            await client.status("ep1", "job-1-u1")
        error = await fails(client.run("ep1", {"input": {}}))
    assert not isinstance(error, RunPodJobNotFound)
    assert (error.http_status, error.outcome) == (404, REFUSED)


async def test_connection_refused_is_not_sent_and_retried_except_on_submits() -> None:
    with socket.socket() as sock:  # a loopback port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rp = RunPodClient(KEY, f"http://127.0.0.1:{port}", retry_delay_s=0.01, retries_network=1)
    with capture_logs() as logs:
        error = await fails(rp.run("ep1", {"input": {}}))
    assert (error.http_status, error.outcome) == (None, NOT_SENT)
    assert [entry["attempt"] for entry in logs] == [1]
    with capture_logs() as logs:
        error = await fails(rp.status("ep1", "job-1"))
    await rp.close()
    assert (error.http_status, error.outcome) == (None, NOT_SENT)
    assert [entry["attempt"] for entry in logs] == [1, 2]


async def test_provider_translates_client_errors(client: RunPodClient) -> None:
    provider = RunPodGpuProvider(client)
    with aioresponses() as mock:
        mock.get(STATUS, status=404)
        mock.post(RUN, status=401, payload={"error": "Unauthorized"})
        with pytest.raises(ProviderJobNotFound):
            await provider.status("ep1", "job-1-u1")
        with pytest.raises(GpuProviderError) as info:
            await provider.submit(REQUEST)
    assert (info.value.outcome, info.value.status_code) == (REFUSED, 401)
    assert "ep1" not in info.value.message


async def test_provider_cancel_of_finished_job_reads_the_result(client: RunPodClient) -> None:
    cancel = f"{BASE}/ep1/cancel/job-1-u1"
    with aioresponses() as mock:
        mock.post(cancel, payload={"id": "job-1-u1", "status": "COMPLETED"})
        mock.get(STATUS, payload={"id": "job-1-u1", "status": "COMPLETED", "output": {"x": 1}})
        snapshot = await RunPodGpuProvider(client).cancel("ep1", "job-1-u1")
    assert snapshot.output == {"x": 1}


def test_snapshot_mapping_keeps_raw_status_and_ms_timings() -> None:
    with capture_logs() as logs:
        odd = snapshot_from_status({"id": "j-u1", "status": "WARMING_UP"})
    assert odd.status == "WARMING_UP"
    assert logs[0]["event"] == "runpod.unknown_status" and logs[0]["log_level"] == "warning"
    done = snapshot_from_status(
        {"id": "j-u1", "status": "COMPLETED", "delayTime": 1520, "executionTime": 2300.0}
    )
    assert (done.delay_time_ms, done.execution_time_ms) == (1520, 2300)


def test_clean_error_keeps_message_never_traceback() -> None:
    worker = json.dumps(
        {
            "error_type": "<class 'RuntimeError'>",
            "error_message": "CUDA out of memory",
            "error_traceback": 'Traceback (most recent call last):\n  File "h.py"',
        }
    )
    assert clean_error(worker) == "CUDA out of memory"
    assert clean_error({"error_message": "bad input"}) == "bad input"
    assert clean_error("boom\nTraceback (most recent call last):\n  x") == "boom"
    assert clean_error("x" * 5000) == "x" * 1000
    assert clean_error(None) is None


async def test_api_key_never_appears_in_logs(
    client: RunPodClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = RunPodGpuProvider(client)
    with aioresponses() as mock:
        mock.post(RUN, payload={"id": "job-1-u1", "status": "IN_QUEUE"})
        mock.post(RUN, status=401, body=f"bad key {KEY}")  # a server echoing the key
        mock.get(STATUS, status=503, repeat=True)
        mock.post(RUN, exception=TimeoutError())
        await provider.submit(REQUEST)
        for call in (provider.submit(REQUEST), provider.status("ep1", "job-1-u1")):
            with pytest.raises(GpuProviderError) as info:
                await call
            assert KEY not in str(info.value) and KEY not in repr(info.value.__cause__)
        with pytest.raises(GpuProviderError):
            await provider.submit(REQUEST)
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "runpod.call" in text and "runpod.failed" in text
    assert KEY not in text and "a cat" not in text
    assert KEY not in repr(client)


async def test_close_only_closes_its_own_session() -> None:
    async with aiohttp.ClientSession() as shared:
        rp = RunPodClient(KEY, BASE, session=shared)
        await rp.close()
        assert not shared.closed
    own = RunPodClient(KEY, BASE)
    with aioresponses() as mock:
        mock.get(f"{BASE}/ep1/health", payload={"jobs": {}, "workers": {}})
        assert "jobs" in await own.health("ep1")
    await own.close()
