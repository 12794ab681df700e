"""A consumer in a real browser: browse, open a model, fill the form, see the API's
validation error, run, watch the status change, see the image, play the audio, find both
runs in the history. The event stream route is absent on this server, so the page falls
back to polling (the path exercised here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bench.browser import LiveApp

TIMEOUT = 15


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = TIMEOUT) -> Any:
    """The first truthy value of ``condition(driver)``; fails after ``timeout`` seconds."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def sign_in(driver: Any, app: LiveApp, key: str, then: str) -> None:
    """Paste ``key`` on the sign-in page and land on ``then``."""
    driver.get(f"{app.url}/sign-in?next={then}")
    field = driver.find_element(By.ID, "api-key")
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url == app.url + then)


def run_and_finish(driver: Any) -> list[str]:
    """Press Run and wait for a terminal status; the statuses the page showed."""
    driver.find_element(By.ID, "run-button").click()
    status = driver.find_element(By.ID, "run-status")
    wait_for(driver, lambda d: status.get_attribute("data-status") == "COMPLETED")
    steps = driver.find_elements(By.CSS_SELECTOR, "#status-steps li")
    return [step.get_attribute("data-status") for step in steps]


def test_browse_run_see_and_hear_then_find_in_history(
    browser: Any, app: LiveApp, demo_key: str
) -> None:
    browser.get(app.url + "/")
    cards = browser.find_elements(By.CSS_SELECTOR, "li.card")
    assert {c.get_attribute("data-slug") for c in cards} == {
        "cartoon-portraits",
        "story-writer",
        "storyteller-voice",
        "quick-sketches",  # on fal, simulated like the others
    }
    browser.find_element(By.LINK_TEXT, "Audio").click()
    wait_for(browser, lambda d: d.current_url.endswith("/?category=AUDIO"))
    slugs = [
        c.get_attribute("data-slug") for c in browser.find_elements(By.CSS_SELECTOR, "li.card")
    ]
    assert slugs == ["storyteller-voice"]

    # Signed out, the model page says how to sign in.
    browser.get(app.url + "/")
    browser.find_element(By.LINK_TEXT, "Cartoon Portraits").click()
    wait_for(browser, lambda d: d.current_url.endswith("/models/cartoon-portraits"))
    assert browser.find_element(By.ID, "sign-in-notice").is_displayed()
    sign_in(browser, app, demo_key, "/models/cartoon-portraits")
    assert not browser.find_element(By.ID, "sign-in-notice").is_displayed()
    assert browser.find_element(By.ID, "who").text == "Demo Consumer"

    # Inputs the server refuses: its 422 messages appear next to their fields.
    browser.find_element(By.ID, "in-seed").send_keys("-5")
    browser.find_element(By.ID, "run-button").click()
    prompt_error = browser.find_element(By.ID, "err-prompt")
    wait_for(browser, lambda d: prompt_error.is_displayed())
    assert prompt_error.text == "is required"
    assert "less than the minimum of 0" in browser.find_element(By.ID, "err-seed").text
    prompt = browser.find_element(By.ID, "in-prompt")
    assert prompt.get_attribute("aria-invalid") == "true"
    summary = browser.find_element(By.ID, "error-summary")
    assert summary.get_attribute("data-code") == "ERR_2005"
    assert browser.switch_to.active_element == summary

    browser.find_element(By.ID, "in-seed").clear()
    prompt.send_keys("a red fox")
    statuses = run_and_finish(browser)
    assert statuses[-1] == "COMPLETED" and len(statuses) >= 2, statuses
    assert not browser.find_element(By.ID, "err-prompt").is_displayed()
    image = browser.find_element(By.CSS_SELECTOR, "#result img.output-image")
    # Files are signed links to the service's own file store, never inline data.
    assert image.get_attribute("src").startswith(app.url + "/files/executions/")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0)
    assert "Cartoon Portraits" in image.get_attribute("alt")

    browser.get(app.url + "/models/storyteller-voice")
    assert browser.find_element(By.ID, "in-voice").get_attribute("disabled") is not None
    assert browser.find_element(By.ID, "in-format").tag_name == "select"
    browser.find_element(By.ID, "in-prompt").send_keys("Once upon a time")
    assert run_and_finish(browser)[-1] == "COMPLETED"
    audio = browser.find_element(By.CSS_SELECTOR, "#result audio")
    assert audio.get_attribute("src").startswith(app.url + "/files/executions/")
    played = browser.execute_async_script(
        """
        const [audio, done] = arguments;
        audio.play().then(() => setTimeout(() => done({
            ready: audio.readyState, duration: audio.duration, time: audio.currentTime
        }), 300)).catch(error => done({error: String(error)}));
        """,
        audio,
    )
    assert "error" not in played, played
    assert played["ready"] >= 2 and played["duration"] > 0 and played["time"] > 0, played

    browser.find_element(By.LINK_TEXT, "History").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == 2)
    items = browser.find_elements(By.CSS_SELECTOR, "#history li")
    titles = [i.find_element(By.CSS_SELECTOR, ".history-title").text for i in items]
    assert titles == ["Storyteller Voice", "Cartoon Portraits"]  # newest first
    assert items[0].find_element(By.TAG_NAME, "audio").get_attribute("controls") is not None
    thumb = items[1].find_element(By.CSS_SELECTOR, "img.thumb")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", thumb) > 0)
    assert all(i.get_attribute("data-status") == "COMPLETED" for i in items)


def test_demo_sign_in_is_one_click(browser: Any, app: LiveApp) -> None:
    browser.get(app.url + "/sign-in?next=/executions")
    browser.find_element(By.ID, "demo-sign-in").click()
    wait_for(browser, lambda d: d.current_url == app.url + "/executions")
    assert browser.execute_script("return sessionStorage.getItem('tarsify.apiKey')").startswith(
        "tsk_"
    )
    wait_for(browser, lambda d: d.find_element(By.ID, "history-filter").is_displayed())
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "sign-in-link").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('tarsify.apiKey')") is None


def test_a_refused_key_is_shown_next_to_the_field(browser: Any, app: LiveApp) -> None:
    browser.get(app.url + "/sign-in")
    browser.find_element(By.ID, "api-key").send_keys("tsk_not-a-real-key")
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    error = browser.find_element(By.ID, "err-key")
    wait_for(browser, lambda d: error.is_displayed())
    assert "refused" in error.text and "ERR_1002" in error.text
    assert browser.execute_script("return sessionStorage.getItem('tarsify.apiKey')") is None
