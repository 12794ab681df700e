"""The simulator engine, its media outputs and the fake RunPod HTTP API."""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.providers.simulator.engine import ManualClock, NotRetryable, SimulatorEngine
from adapters.providers.simulator.media import png_bytes, simulated_output, wav_bytes
from adapters.providers.simulator.runpod_api import FAULTS_KEY, FaultPlan, create_fake_runpod_app
from tarsify.domain.models import OutputType

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
KEY = "sim-secret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def make_engine(**kwargs: Any) -> tuple[SimulatorEngine, ManualClock]:
    clock = ManualClock()
    defaults: dict[str, Any] = {"queue_delay_s": 1.0, "run_time_s": 2.0, "seed": 7}
    return SimulatorEngine(now=clock, **{**defaults, **kwargs}), clock


# --- media -----------------------------------------------------------------------------


def test_png_is_a_real_png_with_valid_chunks() -> None:
    data = png_bytes(1234)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (64, 64, 8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == 64 * (1 + 64 * 3)
    assert b"IEND" in chunks


def test_png_is_deterministic_per_seed() -> None:
    assert png_bytes(1) == png_bytes(1)
    assert png_bytes(1) != png_bytes(2)


def test_wav_opens_with_the_wave_module() -> None:
    with wave.open(io.BytesIO(wav_bytes(42))) as audio:
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        assert audio.getnframes() / audio.getframerate() == pytest.approx(0.5)


def test_image_output_is_a_labelled_png_data_uri() -> None:
    output = simulated_output(OutputType.IMAGE, {"prompt": "a cat", "seed": 5, "num_images": 2})
    assert output["simulated"] is True and output["seed"] == 5
    assert len(output["images"]) == 2
    prefix = "data:image/png;base64,"
    assert all(image.startswith(prefix) for image in output["images"])
    assert base64.b64decode(output["images"][0][len(prefix) :]) == png_bytes(5)


def test_image_seed_derives_from_prompt_when_missing() -> None:
    first = simulated_output(OutputType.IMAGE, {"prompt": "a dog"})
    assert first == simulated_output(OutputType.IMAGE, {"prompt": "a dog"})
    assert first["seed"] != simulated_output(OutputType.IMAGE, {"prompt": "a cat"})["seed"]


def test_audio_output_is_a_labelled_wav() -> None:
    output = simulated_output(OutputType.AUDIO, {"text": "hello"})
    assert output["simulated"] is True and output["format"] == "wav"
    with wave.open(io.BytesIO(base64.b64decode(output["audio_base64"]))) as audio:
        assert audio.getnframes() > 0


def test_text_and_json_outputs_are_labelled() -> None:
    text = simulated_output(OutputType.TEXT, {"prompt": "hi"})
    assert text["simulated"] is True and text["text"].startswith("[simulated] ")
    result = simulated_output(OutputType.FILE, {"a": 1, "b": "x"})
    assert result["simulated"] is True and isinstance(result["result"], str)


@pytest.mark.parametrize("kind", list(OutputType))
@pytest.mark.parametrize("style", [None, "data_uri", "base64", "url"])
def test_no_output_repeats_the_input(kind: OutputType, style: str | None) -> None:
    """A worker's input holds the developer's hidden parts: none of it is shown back."""
    secret = "PFX-HIDDEN merged prompt SFX-HIDDEN"
    inputs: dict[str, Any] = {"prompt": secret, "text": secret, "hidden_field": "HIDDEN-VALUE"}
    if style:
        inputs["simulate_output"] = style
    shown = json.dumps(simulated_output(kind, inputs, urls=True))
    for part in ("HIDDEN", "hidden_field", "merged prompt"):
        assert part not in shown, (kind, style, shown)


# --- engine ----------------------------------------------------------------------------


def test_job_moves_through_statuses_with_clock() -> None:
    engine, clock = make_engine()
    job = engine.submit("ep", {"prompt": "x"}, output_type=OutputType.TEXT)
    assert job.id.endswith("-u1") and job.status == "IN_QUEUE"
    clock.advance(1.0)
    running = engine.get("ep", job.id)
    assert running is not None and running.status == "IN_PROGRESS"
    assert running.delay_time_ms == 1000 and running.execution_time_ms is None
    clock.advance(2.0)
    done = engine.get("ep", job.id)
    assert done is not None and done.status == "COMPLETED"
    assert (done.delay_time_ms, done.execution_time_ms) == (1000, 2000)
    assert done.output["simulated"] is True


def test_zero_delays_complete_instantly() -> None:
    engine, _ = make_engine(queue_delay_s=0, run_time_s=0)
    job = engine.submit("ep", {})
    assert job.status == "COMPLETED" and job.execution_time_ms == 0


def test_job_of_another_endpoint_is_not_found() -> None:
    engine, _ = make_engine()
    job = engine.submit("ep", {})
    assert engine.get("other", job.id) is None


def test_execution_timeout_gives_timed_out() -> None:
    engine, clock = make_engine()
    job = engine.submit("ep", {}, execution_timeout_ms=500)
    clock.advance(10)
    view = engine.get("ep", job.id)
    assert view is not None and view.status == "TIMED_OUT" and view.execution_time_ms == 500


def test_fail_input_gives_runpod_json_error() -> None:
    engine, clock = make_engine()
    job = engine.submit("ep", {"simulate": "fail"})
    clock.advance(5)
    body = engine.get("ep", job.id).to_runpod()  # type: ignore[union-attr]
    assert body["status"] == "FAILED"
    error = json.loads(body["error"])
    assert set(error) >= {"error_type", "error_message", "error_traceback"}


def test_fail_next_knob_affects_only_next_jobs() -> None:
    engine, clock = make_engine()
    engine.fail_next(2)
    jobs = [engine.submit("ep", {}) for _ in range(3)]
    clock.advance(5)
    statuses = [engine.get("ep", j.id).status for j in jobs]  # type: ignore[union-attr]
    assert statuses == ["FAILED", "FAILED", "COMPLETED"]


def test_hang_next_runs_until_the_timeout() -> None:
    engine, clock = make_engine()
    engine.hang_next()
    job = engine.submit("ep", {}, execution_timeout_ms=3000)
    clock.advance(3.5)
    assert engine.get("ep", job.id).status == "IN_PROGRESS"  # type: ignore[union-attr]
    clock.advance(1)
    assert engine.get("ep", job.id).status == "TIMED_OUT"  # type: ignore[union-attr]


def test_cancel_keeps_finished_jobs_as_they_are() -> None:
    engine, clock = make_engine()
    queued, done = engine.submit("ep", {}), engine.submit("ep", {}, execution_timeout_ms=10_000)
    clock.advance(5)
    assert engine.cancel("ep", done.id).status == "COMPLETED"  # type: ignore[union-attr]
    later = engine.submit("ep", {})
    assert engine.cancel("ep", later.id).status == "CANCELLED"  # type: ignore[union-attr]
    clock.advance(5)
    assert engine.get("ep", later.id).status == "CANCELLED"  # type: ignore[union-attr]
    assert engine.get("ep", queued.id).status == "COMPLETED"  # type: ignore[union-attr]


def test_results_are_forgotten_after_retention_and_ttl() -> None:
    engine, clock = make_engine(retention_s=60)
    job = engine.submit("ep", {})
    short = engine.submit("ep", {"simulate": "hang"}, ttl_ms=10_000)
    clock.advance(3 + 59)
    assert engine.get("ep", job.id) is not None
    assert engine.get("ep", short.id) is None
    clock.advance(1)
    assert engine.get("ep", job.id) is None
    assert len(engine) == 0


def test_retry_reruns_failed_jobs_only() -> None:
    engine, clock = make_engine()
    engine.fail_next()
    failed, ok = engine.submit("ep", {}), engine.submit("ep", {})
    clock.advance(5)
    with pytest.raises(NotRetryable):
        engine.retry("ep", ok.id)
    again = engine.retry("ep", failed.id)
    assert again is not None and again.id == failed.id and again.status == "IN_QUEUE"
    clock.advance(5)
    assert engine.get("ep", failed.id).status == "COMPLETED"  # type: ignore[union-attr]


def test_ids_carry_the_configured_suffix() -> None:
    engine, _ = make_engine(id_suffix="-e1")
    assert engine.submit("ep", {}).id.endswith("-e1")


# --- fake HTTP API ---------------------------------------------------------------------


async def fake_client(aiohttp_client: ClientFactory, **kwargs: Any) -> TestClient[Any, Any]:
    engine, _ = make_engine(queue_delay_s=0, run_time_s=0)
    app = create_fake_runpod_app(engine, api_key=KEY, **kwargs)
    return await aiohttp_client(app)


async def test_api_requires_the_bearer_key(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client)
    assert (await client.post("/ep/run", json={"input": {}})).status == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.post("/ep/run", json={"input": {}}, headers=bad)).status == 401
    assert (await client.post("/ep/run", json={"input": {}}, headers=AUTH)).status == 200


async def test_api_validates_the_body(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client)
    for body in ({}, {"input": "x"}, {"input": {}, "policy": {"ttl": -1}}):
        assert (await client.post("/ep/run", json=body, headers=AUTH)).status == 400
    not_json = await client.post("/ep/run", data=b"{", headers=AUTH)
    assert not_json.status == 400


async def test_api_refuses_payloads_over_10_mb(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client)
    body = {"input": {"blob": "x" * (10 * 1024 * 1024)}}
    assert (await client.post("/ep/run", json=body, headers=AUTH)).status == 413


async def test_api_unknown_endpoint_and_job(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client, known_endpoints={"ep"})
    assert (await client.post("/other/run", json={"input": {}}, headers=AUTH)).status == 404
    assert (await client.get("/ep/status/nope-u1", headers=AUTH)).status == 404
    assert (await client.post("/ep/cancel/nope-u1", headers=AUTH)).status == 404


async def test_api_full_cycle_with_retry_and_health(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client)
    run = await (await client.post("/ep/run", json={"input": {}}, headers=AUTH)).json()
    assert run["status"] == "IN_QUEUE"
    status = await (await client.get(f"/ep/status/{run['id']}", headers=AUTH)).json()
    assert status["status"] == "COMPLETED" and status["output"]["simulated"] is True
    assert (await client.post(f"/ep/retry/{run['id']}", headers=AUTH)).status == 400
    sync = await client.post(
        "/ep/runsync?wait=1000", json={"input": {"simulate": "fail"}}, headers=AUTH
    )
    failed = await sync.json()
    assert failed["status"] == "FAILED"
    retried = await client.post(f"/ep/retry/{failed['id']}", headers=AUTH)
    assert (await retried.json()) == {"id": failed["id"], "status": "IN_QUEUE"}
    health = await (await client.get("/ep/health", headers=AUTH)).json()
    assert health["jobs"]["retried"] == 1 and "workers" in health


async def test_api_can_serve_under_v2(aiohttp_client: ClientFactory) -> None:
    client = await fake_client(aiohttp_client, base_path="/v2")
    assert (await client.get("/v2/ep/health", headers=AUTH)).status == 200


async def test_request_log_redacts_the_key_and_counts_routes(
    aiohttp_client: ClientFactory,
) -> None:
    plan = FaultPlan()
    client = await fake_client(aiohttp_client, faults=plan)
    plan.fail_next("health", 1, status=502)
    plan.throttle_next("health", 1, retry_after=3)
    first = await client.get("/ep/health", headers=AUTH)
    second = await client.get("/ep/health", headers=AUTH)
    third = await client.get("/ep/health", headers=AUTH)
    assert (first.status, second.status, third.status) == (502, 429, 200)
    assert second.headers["Retry-After"] == "3"
    assert plan.calls("health") == 3 and plan.calls("run") == 0
    assert [r.status for r in plan.requests] == [502, 429, 200]
    assert KEY not in repr(plan.requests)
    assert client.app is not None and client.app[FAULTS_KEY] is plan


def test_outputs_come_the_ways_real_workers_return_files() -> None:
    from adapters.providers.simulator.media import simulated_output

    image = OutputType.IMAGE
    bare = simulated_output(image, {"prompt": "x", "simulate_output": "base64"})["images"][0]
    assert base64.b64decode(bare).startswith(b"\x89PNG\r\n\x1a\n")
    default = simulated_output(image, {"prompt": "x"})["images"][0]
    assert default.startswith("data:image/png;base64,")
    # Without a server to fetch from, "url" falls back to the default.
    assert (
        simulated_output(image, {"prompt": "x", "simulate_output": "url"})["images"][0] == default
    )
    marked = simulated_output(image, {"prompt": "x", "simulate_output": "url"}, urls=True)
    assert marked["image_url"].startswith("simfile:png/")
    audio = simulated_output(OutputType.AUDIO, {"prompt": "x", "simulate_output": "data_uri"})
    assert audio["audio"].startswith("data:audio/wav;base64,")
    assert "audio_base64" in simulated_output(OutputType.AUDIO, {"prompt": "x"})
