"""The model page on a server that has the execution event stream: the page follows the
stream (``event: status`` lines read with fetch) and does not poll.

The stream route itself is built elsewhere; a stand-in with the documented shape is
mounted here (one ``event: status`` with the execution JSON per change, ending after a
terminal status)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web
from selenium.webdriver.common.by import By

from bench.browser import LiveApp, demo_settings
from entrypoints.http import render
from entrypoints.http.auth import consumer_id
from entrypoints.http.outputs import execution_json
from entrypoints.http.params import path_id
from entrypoints.http.routing import services

from .test_journey import run_and_finish, sign_in

EVENTS = "/api/consumer/executions/{id}/events"


async def events(request: web.Request) -> web.StreamResponse:
    """A stand-in of the event stream, with the shape of the API contract."""
    owner = await consumer_id(request)
    svc = services(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": a comment line, ignored\n\n")
    last = None
    while True:
        view = await svc.executions.get(owner, path_id(request))
        data = await execution_json(request, view)
        if data["status"] != last:
            # The data split over two lines: the reader joins them with a newline.
            text = render.dumps(data).replace(b',"model"', b',\ndata: "model"', 1)
            await response.write(b"event: status\r\ndata: " + text + b"\r\n\r\n")
            last = data["status"]
        if view.execution.is_terminal:
            return response
        await asyncio.sleep(0.05)


@pytest.fixture
def streaming_app() -> Iterator[tuple[LiveApp, list[str]]]:
    """The demo with the stream route; the paths it answered."""
    app = LiveApp(demo_settings())
    seen: list[str] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(request.path)

    app.runner.app.router.add_get(EVENTS, events)
    app.runner.app.on_response_prepare.append(record)
    app.start()
    try:
        yield app, seen
    finally:
        app.stop()


def test_the_page_follows_the_event_stream(
    driver: Any, streaming_app: tuple[LiveApp, list[str]]
) -> None:
    app, seen = streaming_app
    key = requests.post(app.url + "/web/demo-sign-in", timeout=10).json()["data"]["key"]
    sign_in(driver, app, key, "/models/cartoon-portraits")
    driver.find_element(By.ID, "in-prompt").send_keys("a streamed fox")
    statuses = run_and_finish(driver)
    assert statuses[0] == "QUEUED" and statuses[-1] == "COMPLETED", statuses
    assert driver.find_element(By.CSS_SELECTOR, "#result img.output-image")
    streamed = [p for p in seen if p.endswith("/events")]
    polled = [p for p in seen if p.startswith("/api/consumer/executions/") and p not in streamed]
    assert len(streamed) == 1 and polled == []
