"""The developer's studio in Chromium: sign in with a developer token, create a model from
a base model, preview and test-run it, publish it, find it in the marketplace, and see
its figures and chart; labelled, keyboard reachable, phone width, AA contrast.

Screenshots go to ``TARSIFY_SCREENSHOT_DIR`` when set (``docs/screenshots/`` holds the
committed ones), to the test's temporary directory otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from adapters.auth.jwt import mint_token
from bench.browser import DESKTOP, PHONE, LiveApp, set_viewport
from tarsify.ports.identity import Audience

from .test_journey import wait_for
from .test_pages import CONTRAST_JS, TEXT_SELECTORS

STUDIO_TEXT = TEXT_SELECTORS + ", .figure dt, .figure dd, .chart-legend, .models-table td, .slug"


def _token(app: LiveApp, uid: str) -> str:
    secret = app.settings.auth.jwt_secret.get_secret_value()
    return mint_token(secret, Audience.DEVELOPERS, uid, f"{uid}@studio.example", "Studio Dev")


def _shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("TARSIFY_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path


def _studio_sign_in(browser: Any, app: LiveApp, token: str) -> None:
    browser.get(app.url + "/studio")
    field = wait_for(browser, lambda d: d.find_element(By.ID, "dev-token"))
    field.send_keys(token)
    browser.find_element(By.ID, "dev-sign-in-button").click()
    register = browser.find_element(By.ID, "dev-register")
    wait_for(browser, lambda d: register.is_displayed())  # a new developer: no account yet
    register.click()
    wait_for(browser, lambda d: d.find_element(By.ID, "studio-home").is_displayed())


def _unlabelled(browser: Any) -> list[str]:
    return list(
        browser.execute_script(
            "return Array.from(document.querySelectorAll('main input, main select, main textarea'))"
            ".filter(c => c.labels.length === 0 && c.offsetParent).map(c => c.id)"
        )
    )


def test_a_developer_creates_tests_publishes_and_sees_figures(
    browser: Any, app: LiveApp, demo_key: str, tmp_path: Path
) -> None:
    shots = _shots(tmp_path)
    token = _token(app, "studio-dev")
    _studio_sign_in(browser, app, token)
    assert browser.find_element(By.ID, "models-empty").is_displayed()

    browser.find_element(By.ID, "new-model").click()
    base = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#f-base option[value]"))
    assert len(base) > 1
    bases = requests.get(
        app.url + "/api/developer/base-models", headers={"Authorization": f"Bearer {token}"}
    ).json()["data"]
    sdxl = next(b["id"] for b in bases if b["slug"] == "sdxl-image")
    Select(browser.find_element(By.ID, "f-base")).select_by_value(sdxl)
    browser.find_element(By.ID, "f-title").send_keys("Studio Sketches")
    browser.find_element(By.ID, "f-description").send_keys("Pencil sketches, tried in the studio.")
    prefix = browser.find_element(By.ID, "f-prefix")
    prefix.send_keys("pencil sketch of ")
    browser.find_element(By.ID, "save-button").click()
    wait_for(browser, lambda d: "/studio/models/" in d.current_url and "new" not in d.current_url)
    model_id = browser.current_url.rsplit("/", 1)[1]
    status = wait_for(browser, lambda d: d.find_element(By.ID, "model-status"))
    wait_for(browser, lambda d: status.text == "DRAFT")
    assert _unlabelled(browser) == []

    prompt = wait_for(browser, lambda d: d.find_element(By.ID, "in-prompt"))
    prompt.send_keys("a lighthouse")
    browser.find_element(By.ID, "test-run-button").click()
    line = browser.find_element(By.ID, "test-status")
    wait_for(browser, lambda d: line.get_attribute("data-status") == "COMPLETED", timeout=30)
    assert "cost 0" in line.text
    merged = browser.find_element(By.ID, "merged").get_attribute("textContent")
    assert "pencil sketch of a lighthouse" in merged
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shots / "studio-model-desktop.png"))

    browser.find_element(By.ID, "publish-button").click()
    wait_for(browser, lambda d: status.text == "PUBLISHED")
    market = browser.find_element(By.ID, "market-link")
    wait_for(browser, lambda d: market.is_displayed())
    market.click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "model-title"))
    assert browser.find_element(By.ID, "model-title").text == "Studio Sketches"
    browser.get(app.url + "/")
    cards = browser.find_elements(By.CSS_SELECTOR, ".card h2")
    assert "Studio Sketches" in [c.text for c in cards]

    # A consumer's run counts in the figures; the test run did not.
    models = requests.get(
        f"{app.url}/api/developer/tars-models/{model_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]
    run = requests.post(
        f"{app.url}/api/marketplace/models/{models['slug']}/run?wait=20",
        json={"inputs": {"prompt": "a harbour"}},
        headers={"Authorization": f"Bearer {demo_key}"},
    )
    assert run.json()["data"]["status"] == "COMPLETED", run.text

    browser.get(app.url + "/studio")
    row = wait_for(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-model="{model_id}"]')
    )
    cells = [c.text for c in row[0].find_elements(By.TAG_NAME, "td")]
    assert cells[0] == "PUBLISHED" and cells[1] == "1", cells
    chart = browser.find_element(By.CSS_SELECTOR, "#chart svg")
    assert chart.get_attribute("data-days") == "30"
    assert "1 runs" in chart.get_attribute("aria-label")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart rect.chart-bar")) == 30
    browser.save_screenshot(str(shots / "studio-desktop.png"))

    browser.get(f"{app.url}/studio/models/{model_id}")
    model_chart = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model-chart svg"))
    assert "1 runs" in model_chart[0].get_attribute("aria-label")


def test_studio_pages_are_labelled_keyboard_reachable_and_readable(
    browser: Any, app: LiveApp, tmp_path: Path
) -> None:
    _studio_sign_in(browser, app, _token(app, "studio-a11y"))
    assert _unlabelled(browser) == []
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    for _ in range(30):
        if browser.switch_to.active_element.get_attribute("id") == "new-model":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "new-model"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: d.current_url.endswith("/studio/models/new"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#f-base option[value]"))
    assert _unlabelled(browser) == []
    measured = browser.execute_script(CONTRAST_JS, STUDIO_TEXT)
    browser.get(app.url + "/studio")
    wait_for(browser, lambda d: d.find_element(By.ID, "studio-home").is_displayed())
    measured += browser.execute_script(CONTRAST_JS, STUDIO_TEXT)
    assert len(measured) > 20
    assert [(n, round(r, 2)) for n, r in measured if r < 4.5] == []


@pytest.fixture
def phone(browser: Any) -> Any:
    set_viewport(browser, PHONE)
    yield browser
    set_viewport(browser, DESKTOP)


def test_studio_fits_a_phone(phone: Any, app: LiveApp, tmp_path: Path) -> None:
    _studio_sign_in(phone, app, _token(app, "studio-phone"))
    for path in ("/studio", "/studio/models/new"):
        phone.get(app.url + path)
        wait_for(phone, lambda d: d.execute_script("return document.readyState") == "complete")
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0], (path, width)
    phone.get(app.url + "/studio")
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg"))
    phone.save_screenshot(str(_shots(tmp_path) / "studio-phone.png"))
