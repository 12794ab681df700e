"""The pages for everyone: developer text shown as text, usable at phone width, labelled
controls, the keyboard, and readable contrast."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bench.browser import DESKTOP, PHONE, LiveApp, set_viewport

from .test_journey import run_and_finish, sign_in, wait_for

XSS_TITLE = "<script>alert('x')</script><img src=x onerror=alert(1)> Evil"
PAGES = ("/", "/models/cartoon-portraits", "/executions", "/sign-in", "/docs")

CONTRAST_JS = """
function rgb(text) { return text.match(/[\\d.]+/g).map(Number); }
function lum(c) {
  const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(node) {
  for (; node; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  }
  return [255, 255, 255];
}
return Array.from(document.querySelectorAll(arguments[0])).filter(n => n.offsetParent)
  .map(n => { const a = lum(rgb(getComputedStyle(n).color)), b = lum(background(n));
    return [n.className || n.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
"""
TEXT_SELECTORS = (
    "h1, .lede, .card-meta, .badge, .chip, .site-nav a, .help, .field-error, label, "
    ".button, .status-badge, .step, .notice, .error-title, .run-status, .hint, .balance"
)


@pytest.fixture
def phone(browser: Any) -> Any:
    set_viewport(browser, PHONE)
    yield browser
    set_viewport(browser, DESKTOP)


def test_developer_markup_is_shown_as_text(
    browser: Any, app: LiveApp, demo_key: str, developer_headers: dict[str, str]
) -> None:
    bases = requests.get(app.url + "/api/developer/base-models", headers=developer_headers).json()
    base = next(b["id"] for b in bases["data"] if b["slug"] == "sdxl-image")
    body = {"baseModelId": base, "title": XSS_TITLE, "description": XSS_TITLE, "slug": "evil"}
    created = requests.post(
        app.url + "/api/developer/tars-models", json=body, headers=developer_headers
    ).json()["data"]
    path = f"{app.url}/api/developer/tars-models/{created['id']}"
    requests.patch(path, json={"status": "PUBLISHED"}, headers=developer_headers).raise_for_status()

    browser.get(app.url + "/")
    assert browser.find_element(By.CSS_SELECTOR, '[data-slug="evil"] h2').text == XSS_TITLE
    sign_in(browser, app, demo_key, "/models/evil")
    assert browser.find_element(By.ID, "model-title").text == XSS_TITLE
    browser.find_element(By.ID, "in-prompt").send_keys("x")
    assert run_and_finish(browser)[-1] == "COMPLETED"
    browser.get(app.url + "/executions")
    title = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".history-title"))[0]
    assert title.text == XSS_TITLE
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is what raises
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0


def test_phone_width_needs_no_sideways_scrolling(phone: Any, app: LiveApp, demo_key: str) -> None:
    sign_in(phone, app, demo_key, "/")
    for path in PAGES:
        phone.get(app.url + path)
        if path == "/docs":
            wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0], (path, width)
        assert phone.find_element(By.CSS_SELECTOR, ".site-nav").is_displayed(), path


def test_controls_are_labelled_and_run_is_reachable_by_keyboard(
    browser: Any, app: LiveApp, demo_key: str
) -> None:
    sign_in(browser, app, demo_key, "/models/cartoon-portraits")
    unlabelled = browser.execute_script(
        "return Array.from(document.querySelectorAll('main input, main select, main textarea'))"
        ".filter(c => c.labels.length === 0).map(c => c.id)"
    )
    assert unlabelled == []
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("class") == "skip-link"
    browser.find_element(By.ID, "in-prompt").send_keys("keyboard only")
    for _ in range(40):
        if browser.switch_to.active_element.get_attribute("id") == "run-button":
            break
        # Pressed on the page, not typed into the element: Selenium types into a file
        # input as a path to choose.
        ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "run-button"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    status = browser.find_element(By.ID, "run-status")
    wait_for(browser, lambda d: status.get_attribute("data-status") == "COMPLETED")


def test_text_contrast_is_at_least_aa(browser: Any, app: LiveApp, demo_key: str) -> None:
    sign_in(browser, app, demo_key, "/models/cartoon-portraits")
    browser.find_element(By.ID, "run-button").click()  # an error summary and field errors
    wait_for(browser, lambda d: d.find_element(By.ID, "err-prompt").is_displayed())
    browser.find_element(By.ID, "in-prompt").send_keys("contrast")
    run_and_finish(browser)
    measured = []
    for path in ("/", "/sign-in", "/models/cartoon-portraits"):
        if path != "/models/cartoon-portraits":
            browser.get(app.url + path)
        measured += browser.execute_script(CONTRAST_JS, TEXT_SELECTORS)
    assert len(measured) > 30
    low = [(name, round(ratio, 2)) for name, ratio in measured if ratio < 4.5]
    assert low == []


RENDER_JS = """
const [output, type] = arguments;
const node = Tarsify.renderOutput(output, {outputType: type, title: "T"});
return Array.from(node.querySelectorAll("img, audio, video, a, .output-text"))
  .map(n => [n.tagName.toLowerCase(),
              n.getAttribute("src") || n.getAttribute("href") || n.textContent]);
"""
PNG = "data:image/png;base64,iVBORw0KGgo="


def test_outputs_are_shown_by_shape(browser: Any, app: LiveApp) -> None:
    browser.get(app.url + "/models/cartoon-portraits")
    cases: list[tuple[Any, str, list[list[str]]]] = [
        (
            {"images": [PNG, "https://cdn.example/a.webp"]},
            "IMAGE",
            [["img", PNG], ["img", "https://cdn.example/a.webp"]],
        ),
        (
            {"images": ["https://files.example/f/1?sig=x"]},
            "IMAGE",
            [["img", "https://files.example/f/1?sig=x"]],
        ),
        (
            {"audio_url": "https://files.example/f/2?sig=y"},
            "AUDIO",
            [["audio", "https://files.example/f/2?sig=y"]],
        ),
        (
            {"audio_base64": "UklGRiQAAABXQVZFZm10IBAAAAAB", "format": "wav"},
            "AUDIO",
            [["audio", "data:audio/wav;base64,UklGRiQAAABXQVZFZm10IBAAAAAB"]],
        ),
        (
            {"video": "https://files.example/v.mp4"},
            "FILE",
            [["video", "https://files.example/v.mp4"]],
        ),
        ({"text": "<b>hello</b>"}, "TEXT", [["p", "<b>hello</b>"]]),
        (
            {"file": "https://files.example/report.pdf"},
            "FILE",
            [["a", "https://files.example/report.pdf"]],
        ),
        ({"link": "javascript:alert(1)", "img": "data:text/html;base64,PHNjcmlwdD4="}, "JSON", []),
    ]
    for output, output_type, expected in cases:
        assert browser.execute_script(RENDER_JS, output, output_type) == expected, output


def test_switches_toggle_by_keyboard_and_are_sent(
    browser: Any, app: LiveApp, demo_key: str, developer_headers: dict[str, str]
) -> None:
    bases = requests.get(app.url + "/api/developer/base-models", headers=developer_headers).json()
    base = next(b["id"] for b in bases["data"] if b["slug"] == "faster-whisper-stt")
    created = requests.post(
        app.url + "/api/developer/tars-models",
        json={"baseModelId": base, "title": "Transcriber", "slug": "transcriber"},
        headers=developer_headers,
    ).json()["data"]
    path = f"{app.url}/api/developer/tars-models/{created['id']}"
    requests.patch(path, json={"status": "PUBLISHED"}, headers=developer_headers).raise_for_status()
    sign_in(browser, app, demo_key, "/models/transcriber")
    switch = browser.find_element(By.ID, "in-translate")
    assert switch.get_attribute("role") == "switch" and not switch.is_selected()
    track = browser.find_element(By.CSS_SELECTOR, '[data-field="translate"] .switch-track')
    assert track.size["width"] > 30 and track.size["height"] > 15
    switch.send_keys(Keys.SPACE)
    assert switch.is_selected()
    browser.find_element(By.ID, "in-audio").send_keys("https://example.com/a.wav")
    assert run_and_finish(browser)[-1] == "COMPLETED"
    text = browser.find_element(By.CSS_SELECTOR, "#result .output-text").text
    assert text.startswith("[simulated]")
    history = requests.get(
        app.url + "/api/consumer/executions", headers={"Authorization": f"Bearer {demo_key}"}
    ).json()["data"]
    assert history[0]["input"]["translate"] is True
    assert history[0]["input"]["audio"] == "https://example.com/a.wav"
