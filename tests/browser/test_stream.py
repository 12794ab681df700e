"""The model page follows the execution's event stream (``event: status`` lines read
with fetch) and does not poll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web
from selenium.webdriver.common.by import By

from bench.browser import LiveApp, demo_settings

from .test_journey import run_and_finish, sign_in


@pytest.fixture
def streaming_app() -> Iterator[tuple[LiveApp, list[str]]]:
    """The demo with the stream route; the paths it answered."""
    app = LiveApp(demo_settings())
    seen: list[str] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(request.path)

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
