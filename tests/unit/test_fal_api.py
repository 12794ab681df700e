"""The fake fal queue over HTTP: fal's wire as documented, its CDN files and fault knobs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.providers.simulator.engine import ManualClock, SimulatorEngine
from adapters.providers.simulator.fal_api import QUEUE_KEY, create_fake_fal_app
from adapters.providers.simulator.fal_faults import FalFaultPlan
from adapters.providers.simulator.fal_queue import FalQueue
from adapters.providers.simulator.media import png_bytes, wav_bytes
from tarsify.domain.models import OutputType

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
KEY = "fal-fake-secret"
AUTH = {"Authorization": f"Key {KEY}"}
FLUX = "fal-ai/flux/dev"
TYPES = {FLUX: OutputType.IMAGE, "fal-ai/tts": OutputType.AUDIO, "fal-ai/echo": OutputType.JSON}


class Fake:
    """A client of the fake plus the clock and fault plan behind it."""

    def __init__(self, client: TestClient[Any, Any], clock: ManualClock, plan: FalFaultPlan):
        self.client, self.clock, self.plan = client, clock, plan

    async def submit(
        self, model: str = FLUX, body: Any = None, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        answer = await self.client.post(
            f"/{model}",
            json={"prompt": "a fox"} if body is None else body,
            headers=headers,
            **kwargs,
        )
        return answer.status, await answer.json()

    async def call(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        # The fake answers absolute URLs: follow them as given.
        async with self.client.session.request(
            method, self.url(url), headers=headers, **kwargs
        ) as answer:
            return answer.status, await answer.json()

    @property
    def queue(self) -> FalQueue:
        app: web.Application | None = self.client.app
        assert app is not None
        return app[QUEUE_KEY]

    def url(self, url: str) -> str:
        return url if "://" in url else str(self.client.make_url(url))

    async def fetch(self, url: str, **kwargs: Any) -> tuple[int, bytes, dict[str, str]]:
        async with self.client.session.get(self.url(url), **kwargs) as answer:
            return answer.status, await answer.read(), dict(answer.headers)


@pytest.fixture
async def fake(aiohttp_client: ClientFactory) -> Fake:
    clock = ManualClock()
    engine = SimulatorEngine(queue_delay_s=1.0, run_time_s=2.0, id_suffix="", seed=3, now=clock)
    plan = FalFaultPlan()
    app = create_fake_fal_app(
        engine, KEY, set(TYPES), plan, output_types=TYPES, app_timeout_s=30, file_ttl_s=600
    )
    return Fake(await aiohttp_client(app), clock, plan)


async def test_every_call_needs_the_key_in_fals_scheme(fake: Fake) -> None:
    for headers in ({}, {"Authorization": f"Bearer {KEY}"}, {"Authorization": "Key other"}):
        answer = await fake.client.post(f"/{FLUX}", json={}, headers=headers)
        assert answer.status == 401 and isinstance((await answer.json())["detail"], str)
    assert len(fake.queue.requests) == 0
    assert (await fake.submit())[0] == 200


async def test_submit_answers_urls_under_the_app_without_the_sub_path(fake: Fake) -> None:
    status, first = await fake.submit()
    assert status == 200
    assert set(first) == {
        "request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "queue_position",
    }
    origin = str(fake.client.make_url("")).rstrip("/")
    response_url = f"{origin}/fal-ai/flux/requests/{first['request_id']}"
    assert first["response_url"] == response_url
    assert first["status_url"] == f"{response_url}/status"
    assert first["cancel_url"] == f"{response_url}/cancel"
    assert first["queue_position"] == 0
    assert (await fake.submit())[1]["queue_position"] == 1  # one request of the app ahead
    assert (await fake.submit("fal-ai/echo"))[1]["queue_position"] == 0  # another app


async def test_the_body_is_the_input_itself(fake: Fake) -> None:
    await fake.submit(body={"prompt": "a fox", "seed": 4})
    (rec,) = fake.queue.requests.values()
    assert rec.input == {"prompt": "a fox", "seed": 4} and rec.model_id == FLUX


async def test_submit_refusals(fake: Fake) -> None:
    assert (await fake.submit("fal-ai/unknown"))[0] == 404
    assert (await fake.submit("fal-ai/flux/other"))[0] == 404  # unknown sub-path
    status, answer = await fake.submit(body=["not", "an", "object"])
    assert status == 422 and answer["detail"][0]["loc"] == ["body"]
    bad = await fake.client.post(f"/{FLUX}", data=b"{", headers=AUTH)
    assert bad.status == 422
    for headers in ({"X-Fal-Request-Timeout": "0.05"}, {"X-Fal-Queue-Priority": "urgent"}):
        assert (await fake.submit(headers=headers))[0] == 400
    assert (await fake.submit(params={"fal_webhook": "ftp://x"}))[0] == 400


async def test_headers_and_webhook_are_kept_on_the_request(fake: Fake) -> None:
    headers = {"X-Fal-Queue-Priority": "low", "X-Fal-No-Retry": "1"}
    await fake.submit(headers=headers, params={"fal_webhook": "https://hooks.test/fal?t=1"})
    (rec,) = fake.queue.requests.values()
    assert (rec.priority, rec.no_retry, rec.webhook) == ("low", True, "https://hooks.test/fal?t=1")


async def test_status_goes_202_queued_202_running_200_completed(fake: Fake) -> None:
    _, sub = await fake.submit()
    status, queued = await fake.call("GET", sub["status_url"])
    assert status == 202 and queued["status"] == "IN_QUEUE" and queued["queue_position"] == 0
    assert queued["logs"] is None and "metrics" not in queued
    fake.clock.advance(1.5)
    status, running = await fake.call("GET", sub["status_url"], params={"logs": "1"})
    assert status == 202 and running["status"] == "IN_PROGRESS"
    # An image job reports progress: a line per 10% of its run (0.5 s of 2 s here).
    assert [line["message"] for line in running["logs"]] == [
        "Simulated runner started the request",
        "Step 1/10",
        "Step 2/10",
    ]
    assert {"level", "source", "timestamp"} <= set(running["logs"][0])
    fake.clock.advance(2)
    status, done = await fake.call("GET", sub["status_url"], params={"logs": "1"})
    assert status == 200 and done["status"] == "COMPLETED"
    assert done["metrics"] == {"inference_time": 2.0} and "error" not in done
    messages = [line["message"] for line in done["logs"]]  # every line it printed
    assert messages[:2] == ["Simulated runner started the request", "Step 1/10"]
    assert messages[-2:] == ["Step 10/10", "Simulated runner finished the request"]
    assert len(messages) == 12


async def test_result_waits_for_completion_then_gives_fal_shaped_images(fake: Fake) -> None:
    _, sub = await fake.submit(body={"prompt": "a fox", "seed": 9, "num_images": 2})
    status, early = await fake.call("GET", sub["response_url"])
    assert status == 400 and "progress" in early["detail"]
    fake.clock.advance(5)
    status, result = await fake.call("GET", sub["response_url"])
    assert status == 200 and result["seed"] == 9 and result["simulated"] is True
    assert result["timings"] == {"inference": 2.0}
    assert result["has_nsfw_concepts"] == [False, False]
    first = result["images"][0]
    assert (first["width"], first["height"], first["content_type"]) == (64, 64, "image/png")
    again = (await fake.call("GET", sub["response_url"]))[1]
    assert again == result  # the same files on every read
    status, png, _ = await fake.fetch(first["url"])  # a public CDN URL: no key
    assert status == 200 and png == png_bytes(9)
    fake.clock.advance(601)
    assert (await fake.fetch(first["url"]))[0] == 404  # the object expired


async def test_audio_models_answer_an_audio_file_object(fake: Fake) -> None:
    _, sub = await fake.submit("fal-ai/tts", body={"text": "hello", "seed": 5})
    fake.clock.advance(5)
    audio = (await fake.call("GET", sub["response_url"]))[1]["audio"]
    assert audio["content_type"] == "audio/wav" and audio["file_size"] == len(wav_bytes(5))
    assert (await fake.fetch(audio["url"]))[1] == wav_bytes(5)


async def test_a_failed_request_is_completed_with_an_error(fake: Fake) -> None:
    _, sub = await fake.submit(body={"simulate": "fail"})
    fake.clock.advance(5)
    status, done = await fake.call("GET", sub["status_url"])
    assert status == 200 and done["status"] == "COMPLETED"
    assert done["error"] == "Simulated failure requested by the input"
    assert done["error_type"] == "runner_server_error"
    status, body, headers = await fake.fetch(sub["response_url"], headers=AUTH)
    assert status == 500 and headers["X-Fal-Error-Type"] == "runner_server_error"
    assert json.loads(body)["detail"] == done["error"]


async def test_the_apps_own_timeout_ends_a_run_with_request_timeout(fake: Fake) -> None:
    _, sub = await fake.submit(body={"simulate": "hang"})
    fake.clock.advance(1 + 30)
    done = (await fake.call("GET", sub["status_url"]))[1]
    assert (done["error_type"], done["metrics"]) == ("request_timeout", {"inference_time": 30.0})
    assert (await fake.fetch(sub["response_url"], headers=AUTH))[0] == 504


async def test_the_start_deadline_times_out_a_request_no_runner_took(fake: Fake) -> None:
    _, late = await fake.submit(
        body={"simulate_queue_s": 5}, headers={"X-Fal-Request-Timeout": "2"}
    )
    _, soon = await fake.submit(headers={"X-Fal-Request-Timeout": "2"})
    fake.clock.advance(2.5)
    status, timed_out = await fake.call("GET", late["status_url"])
    assert status == 200 and timed_out["error_type"] == "request_timeout"
    assert "metrics" not in timed_out  # it never ran
    assert (await fake.call("PUT", late["cancel_url"]))[1] == {"status": "ALREADY_COMPLETED"}
    assert (await fake.call("GET", soon["status_url"]))[1]["status"] == "IN_PROGRESS"
    fake.clock.advance(10)  # started in time, the deadline no longer applies
    assert "error" not in (await fake.call("GET", soon["status_url"]))[1]


async def test_cancel_removes_a_queued_request_and_stops_a_running_one(fake: Fake) -> None:
    _, queued = await fake.submit()
    _, running = await fake.submit(body={"simulate_queue_s": 0})
    fake.clock.advance(0.5)
    for sub in (queued, running):
        status, answer = await fake.call("PUT", sub["cancel_url"])
        assert (status, answer) == (202, {"status": "CANCELLATION_REQUESTED"})
        done = (await fake.call("GET", sub["status_url"]))[1]
        assert (done["status"], done["error_type"]) == ("COMPLETED", "request_cancelled")
        status, again = await fake.call("PUT", sub["cancel_url"])
        assert (status, again) == (400, {"status": "ALREADY_COMPLETED"})
    assert "metrics" not in (await fake.call("GET", queued["status_url"]))[1]
    ran = (await fake.call("GET", running["status_url"]))[1]
    assert ran["metrics"] == {"inference_time": 0.5}


async def test_unknown_requests_and_other_apps_are_404(fake: Fake) -> None:
    _, sub = await fake.submit()
    other_app = sub["status_url"].replace("/fal-ai/flux/", "/fal-ai/echo/")
    for method, url in (
        ("GET", "/fal-ai/flux/requests/nope/status"),
        ("GET", "/fal-ai/flux/requests/nope"),
        ("PUT", "/fal-ai/flux/requests/nope/cancel"),
        ("GET", other_app),
    ):
        status, answer = await fake.call(method, url)
        assert status == 404 and answer["detail"] == "Request not found"


async def test_requests_are_forgotten_after_the_engines_retention(fake: Fake) -> None:
    _, sub = await fake.submit()
    fake.clock.advance(3 + 1800)
    assert (await fake.call("GET", sub["status_url"]))[0] == 404
    assert len(fake.queue.requests) == 0


# --- fault knobs ---------------------------------------------------------------------


async def test_status_faults_come_in_order_and_are_logged_without_the_key(fake: Fake) -> None:
    fake.plan.fail_next("submit", 1, status=503)
    fake.plan.throttle_next("submit", 1, retry_after=2)
    fake.plan.unauthorize_next("submit", 1)
    first = await fake.client.post(f"/{FLUX}", json={}, headers=AUTH)
    second = await fake.client.post(f"/{FLUX}", json={}, headers=AUTH)
    assert (first.status, second.status, second.headers["Retry-After"]) == (503, 429, "2")
    assert (await fake.submit())[0] == 401
    assert (await fake.submit())[0] == 200
    assert [r.status for r in fake.plan.requests] == [503, 429, 401, 200]
    assert fake.plan.calls("submit") == 4 and fake.plan.calls("status") == 0
    assert len(fake.queue.requests) == 1
    assert KEY not in repr(fake.plan.requests)
    with pytest.raises(ValueError):
        fake.plan.fail_next("run")


async def test_an_expired_result_stays_gone_while_the_status_says_completed(fake: Fake) -> None:
    _, sub = await fake.submit()
    fake.clock.advance(5)
    fake.plan.expire_next_result()
    assert (await fake.call("GET", sub["response_url"]))[0] == 404
    assert (await fake.call("GET", sub["response_url"]))[0] == 404
    assert (await fake.call("GET", sub["status_url"]))[1]["status"] == "COMPLETED"


async def test_a_cancel_that_comes_too_late_lets_the_request_finish(fake: Fake) -> None:
    _, sub = await fake.submit(body={"simulate_queue_s": 0})
    fake.plan.cancel_too_late_next()
    assert (await fake.call("PUT", sub["cancel_url"]))[0] == 202
    fake.clock.advance(5)
    done = (await fake.call("GET", sub["status_url"]))[1]
    assert done["status"] == "COMPLETED" and "error" not in done


async def test_clear_forgets_faults_and_the_log(fake: Fake) -> None:
    fake.plan.fail_next("*", 3)
    fake.plan.cancel_too_late_next()
    fake.plan.expire_next_result()
    assert (await fake.submit())[0] == 500
    fake.plan.clear()
    assert fake.plan.requests == [] and (fake.plan.late_cancels, fake.plan.expired_results) == (
        0,
        0,
    )
    assert (await fake.submit())[0] == 200
