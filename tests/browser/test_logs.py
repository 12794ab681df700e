"""The model page of the demo's fal-backed model: while the run waits, its place in the
queue; while it runs, the runner's log lines in a small box as they arrive; after it
ended, the log kept in a collapsed "Logs" under the result.

The screenshot goes to ``TARSIFY_SCREENSHOT_DIR`` when set (``docs/screenshots/`` holds
the committed one), to the test's temporary directory otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

from bench.browser import LiveApp, demo_settings

from .test_journey import sign_in, wait_for

STARTED = "Simulated runner started the request"
FINISHED = "Simulated runner finished the request"


@pytest.fixture
def waiting_app() -> Iterator[LiveApp]:
    """The demo with runs long enough to watch: 1.5 s queued, 3 s of simulated work."""
    app = LiveApp(demo_settings(simulator_queue_seconds=1.5, simulator_run_seconds=3.0))
    app.start()
    try:
        yield app
    finally:
        app.stop()


def _lines(driver: Any) -> list[str]:
    found = driver.find_elements(By.CSS_SELECTOR, "#run-logs .log-line")
    return [line.get_attribute("textContent") for line in found]


def test_log_lines_appear_while_a_fal_model_runs_and_stay_after(
    driver: Any, waiting_app: LiveApp, tmp_path: Path
) -> None:
    app = waiting_app
    key = requests.post(app.url + "/web/demo-sign-in", timeout=10).json()["data"]["key"]
    sign_in(driver, app, key, "/models/quick-sketches")
    driver.find_element(By.ID, "in-prompt").send_keys("a lighthouse in the rain")
    driver.find_element(By.ID, "run-button").click()
    status = driver.find_element(By.ID, "run-status")

    def queued(d: Any) -> str | None:
        text = status.text
        return text if status.get_attribute("data-status") == "QUEUED" and "line" in text else None

    assert "queued — next in line" in wait_for(driver, queued)
    assert status.get_attribute("data-queue-position") == "0"

    def stepping(d: Any) -> tuple[list[str], str | None] | None:
        lines = _lines(d)
        steps = [line for line in lines if "Step " in line]
        return (lines, status.get_attribute("data-status")) if steps else None

    lines, status_then = wait_for(driver, stepping)
    assert status_then == "RUNNING", (lines, status_then)  # lines before the run ended
    assert STARTED in lines[0]
    assert driver.find_element(By.ID, "run-logs").get_attribute("open") is not None
    assert status.get_attribute("data-queue-position") is None  # no place once running

    wait_for(driver, lambda d: status.get_attribute("data-status") == "COMPLETED")
    assert driver.find_element(By.CSS_SELECTOR, "#result img.output-image")
    kept = driver.find_element(By.CSS_SELECTOR, "#result > details#run-logs")
    assert kept.get_attribute("open") is None  # collapsed under the result
    final = _lines(driver)
    assert len(final) == 12 and "Step 10/10" in final[-2] and FINISHED in final[-1]
    assert final[: len(lines)] == lines  # the lines seen while it ran, then the rest
    summary = kept.find_element(By.TAG_NAME, "summary")
    assert summary.text == "Logs (12 lines)"

    summary.click()
    wait_for(driver, lambda d: kept.get_attribute("open") is not None)
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", kept)
    chosen = os.environ.get("TARSIFY_SCREENSHOT_DIR")
    shots = Path(chosen) if chosen else tmp_path
    driver.save_screenshot(str(shots / "model-logs-desktop.png"))
