"""FalClient and FalGpuProvider's mapping: over loopback HTTP against the fake fal queue,
plus the pure mappings (statuses, errors, job ids)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from adapters.providers.fal.client import FalClient, FalError, FalRequestNotFound
from adapters.providers.fal.provider import (
    FalGpuProvider,
    RequestPaths,
    clean_error,
    fal_job_id,
    job_id_of_submit,
    report_from_status,
)
from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_api import QUEUE_KEY, create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_queue import FalQueue
from tarsify.domain.errors import GpuProviderError, ProviderJobNotFound, ProviderOutcome
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobRequest

KEY = "fal-unit-key-0123456789"
FLUX = "fal-ai/flux/dev"
FAST: dict[str, Any] = {"timeout_s": 2.0, "retry_delay_s": 0.01, "deadline_s": 5.0}


@dataclass
class Rig:
    """A client and provider on loopback in front of the fake, with its state and clock."""

    client: FalClient
    provider: FalGpuProvider
    queue: FalQueue
    plan: FalFaultPlan
    clock: ManualClock
    base: str


async def start(public_url: str | None = None) -> tuple[Rig, TestServer]:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, id_suffix="", now=clock)
    plan = FalFaultPlan()
    types = {FLUX: OutputType.IMAGE}
    app = create_fake_fal_app(engine, KEY, faults=plan, output_types=types, public_url=public_url)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    client = FalClient(KEY, base, **FAST)
    return Rig(client, FalGpuProvider(client), app[QUEUE_KEY], plan, clock, base), server


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made, server = await start()
    yield made
    await made.client.close()
    await server.close()


def job(model: str = FLUX, **overrides: Any) -> JobRequest:
    fields: dict[str, Any] = {
        "endpoint_id": model,
        "input": {"prompt": "a fox", "seed": 3},
        "execution_timeout_ms": 60_000,
        "ttl_ms": 30_000,
    }
    return JobRequest(**{**fields, **overrides})


# --- the wire -------------------------------------------------------------------------


async def test_submit_sends_the_input_itself_the_start_deadline_and_the_callback_url(
    rig: Rig,
) -> None:
    report = await rig.provider.submit(job(callback_url="https://hooks.test/fal/1?t=x"))
    (rec,) = rig.queue.requests.values()
    assert rec.input == {"prompt": "a fox", "seed": 3} and rec.model_id == FLUX
    assert (rec.start_timeout_s, rec.webhook) == (30.0, "https://hooks.test/fal/1?t=x")
    (call,) = rig.plan.requests
    assert (call.method, call.path) == ("POST", "/fal-ai/flux/dev")
    assert call.headers["X-Fal-Request-Timeout"] == "30"
    assert call.query == {"fal_webhook": "https://hooks.test/fal/1?t=x"}
    # The job id is the result URL's path: under the app, without the sub-path.
    assert report.status == "IN_QUEUE"
    assert report.job_id == f"fal-ai/flux/requests/{rec.request_id}"
    assert report.job_id == fal_job_id(FLUX, rec.request_id)


async def test_status_result_and_cancel_follow_the_urls_of_the_submit(rig: Rig) -> None:
    report = await rig.provider.submit(job())
    rig.clock.advance(5)
    done = await rig.provider.status(FLUX, report.job_id)
    assert done.job_id == report.job_id and done.status == "COMPLETED"
    assert done.execution_time_ms == 2000 and done.delay_time_ms is None
    assert done.output["images"][0]["url"].startswith(rig.base + "/files/")
    await rig.provider.cancel(FLUX, report.job_id)
    paths = [(r.method, r.path) for r in rig.plan.requests[1:]]
    app_path = f"/{report.job_id}"
    assert paths == [
        ("GET", f"{app_path}/status"),
        ("GET", app_path),
        ("PUT", f"{app_path}/cancel"),
        ("GET", f"{app_path}/status"),
        ("GET", app_path),
    ]


async def test_the_key_goes_in_fals_scheme_and_never_into_logs(rig: Rig) -> None:
    with capture_logs() as logs:
        report = await rig.provider.submit(job())
        await rig.provider.status(FLUX, report.job_id)
        rig.plan.unauthorize_next("status")
        with pytest.raises(GpuProviderError) as info:
            await rig.provider.status(FLUX, report.job_id)
    assert (info.value.outcome, info.value.status_code) == (ProviderOutcome.REFUSED, 401)
    assert {e["event"] for e in logs} >= {"fal.call", "fal.failed"}
    assert KEY not in repr(logs) and KEY not in str(info.value)


async def test_a_key_echoed_by_a_server_is_redacted() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"detail": f"bad {request.headers['Authorization']}"}, status=403)

    app = web.Application()
    app.router.add_post("/{tail:.*}", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = FalClient(KEY, str(server.make_url("")), **FAST)
    try:
        with capture_logs() as logs, pytest.raises(FalError) as info:
            await client.submit(FLUX, {})
    finally:
        await client.close()
        await server.close()
    assert info.value.http_status == 403 and "<redacted>" in info.value.message
    assert KEY not in str(info.value) and KEY not in repr(logs)


async def test_urls_on_another_host_are_never_called(rig: Rig) -> None:
    with pytest.raises(FalError) as info:
        await rig.client.status("http://elsewhere.test/fal-ai/flux/requests/r1/status")
    assert info.value.outcome is ProviderOutcome.REFUSED and rig.plan.calls() == 0


async def test_answered_urls_elsewhere_fall_back_to_fals_documented_layout() -> None:
    made, server = await start(public_url="http://elsewhere.test")
    try:
        with capture_logs() as logs:
            report = await made.provider.submit(job())
        (rec,) = made.queue.requests.values()
        assert report.job_id == fal_job_id(FLUX, rec.request_id)
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["fal.unexpected_urls"]
        assert (await made.provider.status(FLUX, report.job_id)).status == "IN_QUEUE"
    finally:
        await made.client.close()
        await server.close()


async def test_a_schema_refusal_names_the_fields(rig: Rig) -> None:
    with pytest.raises(FalError) as info:
        await rig.client.submit(FLUX, ["not an object"])  # type: ignore[arg-type]
    assert info.value.http_status == 422 and info.value.outcome is ProviderOutcome.REFUSED
    assert info.value.message == "HTTP 422 body: Input should be a valid dictionary"


async def test_the_result_of_a_failed_request_is_final_not_retried(rig: Rig) -> None:
    submitted = await rig.client.submit(FLUX, {"simulate": "fail"})
    rig.clock.advance(5)
    with pytest.raises(FalError) as info:
        await rig.client.result(submitted["response_url"])
    assert (info.value.http_status, info.value.error_type) == (500, "runner_server_error")
    assert info.value.message == "Simulated failure requested by the input"
    assert rig.plan.calls("result") == 1


async def test_cancel_of_a_finished_request_is_an_answer_not_an_error(rig: Rig) -> None:
    submitted = await rig.client.submit(FLUX, {})
    rig.clock.advance(5)
    assert await rig.client.cancel(submitted["cancel_url"]) == {"status": "ALREADY_COMPLETED"}


async def test_an_unknown_request_is_not_found(rig: Rig) -> None:
    with pytest.raises(FalRequestNotFound) as info:
        await rig.client.status(f"{rig.base}/fal-ai/flux/requests/nope/status")
    assert info.value.http_status == 404


async def test_a_job_id_of_another_app_is_not_found_without_a_call(rig: Rig) -> None:
    report = await rig.provider.submit(job())
    for model, job_id in (("fal-ai/other", report.job_id), (FLUX, "just-an-id")):
        with pytest.raises(ProviderJobNotFound):
            await rig.provider.status(model, job_id)
        with pytest.raises(ProviderJobNotFound):
            await rig.provider.cancel(model, job_id)
    assert rig.plan.calls("status") == rig.plan.calls("cancel") == 0


# --- pure mappings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "error", "ms"),
    [
        ({"status": "IN_QUEUE", "queue_position": 3}, "IN_QUEUE", None, None),
        ({"status": "IN_PROGRESS", "logs": []}, "IN_PROGRESS", None, None),
        ({"status": "COMPLETED", "metrics": {"inference_time": 1.25}}, "COMPLETED", None, 1250),
        ({"status": "COMPLETED", "metrics": {"inference_time": "x"}}, "COMPLETED", None, None),
        (
            {"status": "COMPLETED", "error": "Out of memory", "error_type": "runner_server_error"},
            "FAILED",
            "Out of memory",
            None,
        ),
        (
            {"status": "COMPLETED", "error": "Timed out", "error_type": "request_timeout"},
            "TIMED_OUT",
            "Timed out",
            None,
        ),
        ({"status": "COMPLETED", "error_type": "request_cancelled"}, "CANCELLED", None, None),
        (
            {"status": "COMPLETED", "error_type": "runner_disconnected"},
            "FAILED",
            "The request failed (runner_disconnected)",
            None,
        ),
        ({"status": "COMPLETED", "error": "boom"}, "FAILED", "boom", None),
        ({"status": "PAUSED"}, "PAUSED", None, None),
        ({}, "UNKNOWN", None, None),
    ],
)
def test_statuses_map_onto_reports(
    answer: dict[str, Any], status: str, error: str | None, ms: int | None
) -> None:
    report = report_from_status("app/x/requests/1", answer)
    assert (report.job_id, report.status, report.error) == ("app/x/requests/1", status, error)
    assert report.execution_time_ms == ms and report.output is None


def test_final_statuses_are_final_and_unknown_ones_change_nothing() -> None:
    done = report_from_status("j", {"status": "COMPLETED", "error_type": "request_timeout"})
    assert done.is_final and done.execution_status is not None
    assert report_from_status("j", {"status": "PAUSED"}).execution_status is None


def test_errors_lose_their_traceback_and_length() -> None:
    text = 'Bad input\nTraceback (most recent call last):\n  File "app.py"'
    assert clean_error(text, "runner_server_error") == "Bad input"
    assert clean_error("Traceback (most recent call last): x", None) == "The request failed"
    assert len(clean_error("x" * 5000, None)) == 1000


@pytest.mark.parametrize(
    ("job_id", "model", "response", "status", "cancel"),
    [
        ("fal-ai/flux/requests/r1", FLUX, "fal-ai/flux/requests/r1", None, None),
        ("fal-ai/flux/requests/r1", "fal-ai/flux", "fal-ai/flux/requests/r1", None, None),
        (
            "fal-ai/flux/requests/r1 fal-ai/flux/s/r1 fal-ai/flux/c/r1",
            FLUX,
            "fal-ai/flux/requests/r1",
            "fal-ai/flux/s/r1",
            "fal-ai/flux/c/r1",
        ),
    ],
)
def test_job_ids_carry_the_request_paths(
    job_id: str, model: str, response: str, status: str | None, cancel: str | None
) -> None:
    paths = RequestPaths.of_job(job_id, model)
    assert paths is not None and paths.response == response
    assert paths.status == (status or f"{response}/status")
    assert paths.cancel == (cancel or f"{response}/cancel")
    assert paths.job_id == job_id


@pytest.mark.parametrize(
    "job_id",
    [
        "fal-ai/other/requests/r1",  # another app
        "fal-ai/flux/../other/requests/r1",
        "fal-ai/flux/requests/r1?x=1",
        "fal-ai/flux//r1",
        "fal-ai/flux/requests/r1 fal-ai/flux/s",  # two paths
        "https://evil.test/fal-ai/flux/requests/r1",
        "",
    ],
)
def test_job_ids_that_are_no_request_of_the_app_are_refused(job_id: str) -> None:
    assert RequestPaths.of_job(job_id, FLUX) is None


def test_the_job_id_of_a_submit_keeps_urls_of_another_layout() -> None:
    base = "https://queue.fal.test"
    answer = {
        "request_id": "r1",
        "response_url": f"{base}/fal-ai/flux/requests/r1",
        "status_url": f"{base}/fal-ai/flux/requests/r1/state",
        "cancel_url": f"{base}/fal-ai/flux/requests/r1/stop",
    }
    job_id = job_id_of_submit(answer, base + "/", FLUX)
    assert job_id.split(" ") == [
        "fal-ai/flux/requests/r1",
        "fal-ai/flux/requests/r1/state",
        "fal-ai/flux/requests/r1/stop",
    ]
    with pytest.raises(GpuProviderError) as info:
        job_id_of_submit({"response_url": answer["response_url"]}, base, FLUX)
    assert info.value.outcome is ProviderOutcome.UNKNOWN  # it may be queued all the same
