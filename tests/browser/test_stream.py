"""The model page follows the execution's event stream (read with fetch) and does not
poll: statuses, streamed text as it arrives, and a progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web
from selenium.webdriver.common.by import By

from bench.browser import LiveApp, demo_settings

from .test_journey import run_and_finish, sign_in, wait_for


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


@pytest.fixture
def slow_app() -> Iterator[LiveApp]:
    """The demo with runs long enough to watch: 3 s of simulated work."""
    app = LiveApp(demo_settings(simulator_run_seconds=3.0))
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_streamed_text_appears_before_the_run_completes(driver: Any, slow_app: LiveApp) -> None:
    key = requests.post(slow_app.url + "/web/demo-sign-in", timeout=10).json()["data"]["key"]
    sign_in(driver, slow_app, key, "/models/story-writer")
    driver.find_element(By.ID, "in-prompt").send_keys("a fox who learns to sail")
    driver.find_element(By.ID, "run-button").click()
    status = driver.find_element(By.ID, "run-status")

    def streamed(d: Any) -> tuple[str, str] | None:
        found = d.find_elements(By.ID, "stream-text")
        text = found[0].text if found else ""
        return (text, status.get_attribute("data-status")) if text else None

    text, status_then = wait_for(driver, streamed)
    assert status_then == "RUNNING", (text, status_then)  # text before the run ended
    wait_for(driver, lambda d: status.get_attribute("data-status") == "COMPLETED")
    final = driver.find_element(By.CSS_SELECTOR, "#result .output-text").text
    assert final.startswith(text.strip()) and len(final) > len(text.strip())


def test_a_progress_bar_moves_while_an_image_is_made(driver: Any, slow_app: LiveApp) -> None:
    key = requests.post(slow_app.url + "/web/demo-sign-in", timeout=10).json()["data"]["key"]
    sign_in(driver, slow_app, key, "/models/cartoon-portraits")
    driver.find_element(By.ID, "in-prompt").send_keys("a fox in a sailor hat")
    driver.find_element(By.ID, "run-button").click()
    status = driver.find_element(By.ID, "run-status")

    def progressed(d: Any) -> float | None:
        bars = d.find_elements(By.ID, "run-progress")
        if not bars or not bars[0].is_displayed():
            return None
        value = float(bars[0].get_attribute("value") or 0)
        return value if value > 0 and status.get_attribute("data-status") == "RUNNING" else None

    assert 0 < wait_for(driver, progressed) < 100
    wait_for(driver, lambda d: status.get_attribute("data-status") == "COMPLETED")
    assert driver.find_element(By.CSS_SELECTOR, "#result img.output-image")
