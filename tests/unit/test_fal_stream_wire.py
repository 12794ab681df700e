"""fal.run streams on the wire: the fake's ``/stream`` route and ``FalClient.open_stream``
(its events, its bounds and how errors before the stream map to outcomes), over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.providers.fal.client import FalClient, FalError
from adapters.providers.fal.sse import MAX_EVENT_BYTES, FalStreamBroken
from tarsify.domain.errors import GpuProviderError, ProviderOutcome
from tests.unit.fal_stream_rig import FAST, FLUX, KEY, LLM, StreamRig, start_rig, streaming


@pytest.fixture
async def rig() -> AsyncIterator[StreamRig]:
    made = await start_rig()
    yield made
    await made.close()


async def _post(rig: StreamRig, model: str, body: Any, key: str = KEY) -> aiohttp.ClientResponse:
    session = rig.client._get_session()
    return await session.post(
        f"{rig.base}/{model}/stream",
        data=json.dumps(body),
        headers={"Authorization": f"Key {key}", "Accept": "text/event-stream"},
    )


async def _read_all(rig: StreamRig, response: aiohttp.ClientResponse) -> list[str]:
    """The raw events of a stream, advancing the fake's clock until it ends."""
    rig.clock.advance(10)
    text = (await response.read()).decode()
    return [e for e in text.split("\n\n") if e]


async def test_a_text_model_streams_its_words_then_the_whole_text(rig: StreamRig) -> None:
    response = await _post(rig, LLM, {"prompt": "x", "simulate_stream": 4})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    (served,) = rig.streams.served
    assert response.headers["x-fal-request-id"] == served.request_id
    events = [json.loads(e.removeprefix("data: ")) for e in await _read_all(rig, response)]
    assert events == [
        {"delta": "Once "},
        {"delta": "upon "},
        {"delta": "a "},
        {"delta": "time "},
        {"output": "Once upon a time", "simulated": True},
    ]
    assert served.finished and not served.broken and not served.disconnected


async def test_an_image_model_streams_progress_then_its_fal_shaped_output(rig: StreamRig) -> None:
    response = await _post(rig, FLUX, {"prompt": "x"})
    rig.clock.advance(1.5)  # a quarter of the run
    first = json.loads((await response.content.readuntil(b"\n\n")).decode()[6:])
    assert first == {"progress": 0.2, "message": "Step 2/10"}
    events = [json.loads(e.removeprefix("data: ")) for e in await _read_all(rig, response)]
    assert events[-1]["images"][0]["url"].startswith(rig.base + "/files/")
    assert all("progress" in e for e in events[:-1])


async def test_a_failing_app_ends_with_an_error_event(rig: StreamRig) -> None:
    response = await _post(rig, LLM, {"simulate": "fail"})
    (last,) = [e for e in await _read_all(rig, response) if e.startswith("event: error")]
    assert json.loads(last.split("data: ", 1)[1])["detail"]


async def test_faults_break_the_stream_or_refuse_it(rig: StreamRig) -> None:
    rig.plan.stream_break_after = 1
    response = await _post(rig, LLM, {"simulate_stream": 4})
    rig.clock.advance(10)
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert rig.streams.served[0].broken and len(rig.streams.served[0].events) == 1
    rig.plan.clear()
    rig.plan.without_stream.add(LLM)
    refused = await _post(rig, LLM, {})
    assert refused.status == 404 and "streaming" in (await refused.json())["detail"]
    rig.plan.fail_next("stream", status=503)
    assert (await _post(rig, FLUX, {})).status == 503
    assert (await _post(rig, FLUX, {}, key="wrong")).status == 401
    assert (await _post(rig, FLUX, [1])).status == 422


async def test_the_client_reads_the_events_and_the_request_id(rig: StreamRig) -> None:
    stream = await rig.client.open_stream(LLM, {"simulate_stream": 2})
    assert stream.request_id == rig.streams.served[0].request_id
    call = rig.plan.requests[0]
    assert (call.method, call.path) == ("POST", f"/{LLM}/stream")
    assert call.headers["Accept"] == "text/event-stream"
    rig.clock.advance(10)
    events = [e async for e in stream.events()]
    assert events[:2] == [{"delta": "Once "}, {"delta": "upon "}] and len(events) == 3


@pytest.mark.parametrize(
    ("fault", "outcome", "status"),
    [
        ("no_stream", ProviderOutcome.REFUSED, 404),
        ("503", ProviderOutcome.NOT_SENT, 503),
        ("429", ProviderOutcome.NOT_SENT, 429),
        ("401", ProviderOutcome.REFUSED, 401),
    ],
)
async def test_errors_before_the_stream_map_to_outcomes_and_are_never_retried(
    rig: StreamRig, fault: str, outcome: ProviderOutcome, status: int
) -> None:
    def arm() -> None:
        if fault == "no_stream":
            rig.plan.without_stream.add(LLM)
        elif fault == "429":
            rig.plan.throttle_next("stream", retry_after=0.01)
        elif fault == "401":
            rig.plan.unauthorize_next("stream")
        else:
            rig.plan.fail_next("stream", status=503)

    arm()
    with pytest.raises(FalError) as caught:
        await rig.client.open_stream(LLM, {})
    assert (caught.value.outcome, caught.value.http_status) == (outcome, status)
    assert rig.plan.calls("stream") == 1
    arm()
    with pytest.raises(GpuProviderError) as mapped:
        await rig.provider().submit(streaming())
    assert (mapped.value.outcome, rig.plan.calls("stream")) == (outcome, 2)


async def test_a_timeout_after_sending_is_unknown_and_not_retried(rig: StreamRig) -> None:
    rig.plan.latency_s = 1.0
    client = FalClient(KEY, rig.base, run_url=rig.base, **{**FAST, "timeout_s": 0.2})
    try:
        with pytest.raises(FalError) as caught:
            await client.open_stream(LLM, {})
    finally:
        await client.close()
    assert caught.value.outcome is ProviderOutcome.UNKNOWN
    assert rig.plan.calls("stream") == 1


async def test_a_closed_port_is_not_sent_and_a_bad_body_is_refused(rig: StreamRig) -> None:
    await rig.server.close()
    with pytest.raises(FalError) as caught:
        await rig.client.open_stream(LLM, {})
    assert caught.value.outcome is ProviderOutcome.NOT_SENT
    with pytest.raises(FalError) as bad:
        await rig.client.open_stream(LLM, {"x": object()})
    assert bad.value.outcome is ProviderOutcome.REFUSED


def _raw_server(body: bytes) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    return app


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"data: {not json}\n\n", "not JSON"),
        (b"data: " + b"x" * (MAX_EVENT_BYTES + 10), "line over"),
        ((b"data: " + b"1" * 1000 + b"\n") * 1100 + b"\n", "event over"),
        (b'event: error\ndata: {"detail": "out of memory"}\n\n', "out of memory"),
    ],
)
async def test_malformed_or_oversized_streams_fail(body: bytes, reason: str) -> None:
    server = TestServer(_raw_server(body), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    client = FalClient(KEY, base, run_url=base, **FAST)
    try:
        stream = await client.open_stream(LLM, {})
        assert stream.request_id is None
        with pytest.raises(FalStreamBroken, match=reason):
            _ = [e async for e in stream.events()]
    finally:
        await client.close()
        await server.close()


async def test_comments_and_crlf_lines_are_read_as_sse() -> None:
    body = b': keep-alive\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: 2\n\n'
    server = TestServer(_raw_server(body), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    client = FalClient(KEY, base, run_url=base, **FAST)
    try:
        stream = await client.open_stream(LLM, {})
        assert [e async for e in stream.events()] == [{"a": 1}, 2]
    finally:
        await client.close()
        await server.close()
