"""What a newcomer reads in the pages: refusals in words (402 with the price and the
balance, 429 with when to try again, validation messages under the field's label), the
balance in the header, registering in the browser, and a result that fits a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

from adapters.auth.jwt import mint_token
from bench.browser import DESKTOP, PHONE, LiveApp, demo_settings, live_app, set_viewport
from entrypoints.seed.run import DEMO_CREDITS
from tarsify.ports.identity import Audience

from .test_journey import run_and_finish, sign_in, wait_for

PRICE = 5  # cartoon-portraits, per run (entrypoints/seed/run.py)


def consumer_token(app: LiveApp, uid: str, name: str) -> str:
    """A consumer token of ``uid`` (no account until it registers)."""
    secret = app.settings.auth.jwt_secret.get_secret_value()
    return mint_token(secret, Audience.CONSUMERS, uid, f"{uid}@mail.example", name)


def summary_of(driver: Any) -> Any:
    summary = driver.find_element(By.ID, "error-summary")
    wait_for(driver, lambda d: summary.is_displayed())
    return summary


def press_run(driver: Any, prompt: str) -> None:
    driver.find_element(By.ID, "in-prompt").send_keys(prompt)
    driver.find_element(By.ID, "run-button").click()


def balance_text(driver: Any) -> str:
    box = driver.find_element(By.ID, "balance")
    wait_for(driver, lambda d: box.is_displayed())
    return str(driver.find_element(By.ID, "balance-amount").text)


def test_a_token_without_an_account_registers_in_the_browser(browser: Any, app: LiveApp) -> None:
    token = consumer_token(app, "con-newcomer", "Nina Newcomer")
    browser.get(app.url + "/sign-in?next=/models/cartoon-portraits")
    browser.find_element(By.ID, "api-key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    register = browser.find_element(By.ID, "register")
    wait_for(browser, lambda d: register.is_displayed())
    assert browser.switch_to.active_element == register  # next for the keyboard too
    assert browser.execute_script("return sessionStorage.getItem('tarsify.apiKey')") is None
    register.click()
    wait_for(browser, lambda d: d.current_url == app.url + "/models/cartoon-portraits")
    assert browser.find_element(By.ID, "who").text == "Nina Newcomer"
    assert balance_text(browser) == "0 credits"
    me = requests.get(
        app.url + "/api/consumer/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 200 and me.json()["data"]["email"] == "con-newcomer@mail.example"


def test_not_enough_credits_shows_the_price_and_the_balance(browser: Any, app: LiveApp) -> None:
    token = consumer_token(app, "con-broke", "Bo Broke")
    registered = requests.post(
        app.url + "/api/consumer/auth/register",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    sign_in(browser, app, token, "/models/cartoon-portraits")
    press_run(browser, "a fox")
    summary = summary_of(browser)
    assert summary.text == (
        f"Not enough credits: this run costs {PRICE} credits and your balance is 0 credits."
    )
    assert summary.get_attribute("data-code") == "ERR_6001"
    assert browser.find_element(By.ID, "run-status").text == "Not run."
    assert browser.find_element(By.ID, "run-button").is_enabled()


@pytest.fixture
def busy_app() -> Iterator[LiveApp]:
    """The demo with one unfinished run allowed per consumer, and runs that last."""
    settings = demo_settings(max_active_executions=1, simulator_run_seconds=60)
    with live_app(settings) as started:
        yield started


def test_too_many_runs_says_when_to_try_again(driver: Any, busy_app: LiveApp) -> None:
    app = busy_app
    key = requests.post(app.url + "/web/demo-sign-in", timeout=10).json()["data"]["key"]
    headers = {"Authorization": f"Bearer {key}"}
    first = requests.post(
        app.url + "/api/marketplace/models/cartoon-portraits/run",
        json={"inputs": {"prompt": "the first"}},
        headers=headers,
        timeout=10,
    )
    assert first.status_code in (200, 202), first.text
    driver.get(app.url + "/web/static/app.css")
    driver.execute_script("window.sessionStorage.clear()")
    try:
        sign_in(driver, app, key, "/models/cartoon-portraits")
        press_run(driver, "the second")
        text = summary_of(driver).text
        # What the server said: its Retry-After, in seconds.
        again = requests.post(
            app.url + "/api/marketplace/models/cartoon-portraits/run",
            json={"inputs": {"prompt": "the third"}},
            headers=headers,
            timeout=10,
        )
        assert again.status_code == 429
        seconds = int(again.headers["Retry-After"])
        unit = "second" if seconds == 1 else "seconds"
        assert text.startswith(
            "You already have 1 unfinished run, the most allowed at a time. "
            f"Try again in {seconds} {unit} (at "
        ), text
        assert re.search(r"\(at \d{1,2}:\d{2}:\d{2}", text), text
        assert "forEach" not in driver.find_element(By.ID, "run-status").text
    finally:
        driver.execute_script("window.sessionStorage.clear()")


def test_validation_messages_name_the_fields_by_their_labels(
    browser: Any, app: LiveApp, demo_key: str
) -> None:
    sign_in(browser, app, demo_key, "/models/cartoon-portraits")
    browser.find_element(By.ID, "in-seed").send_keys("-5")
    # A value only a script could type (the control has a maxlength): the server says no.
    browser.execute_script(
        "const c = document.getElementById('in-negative_prompt');"
        "c.removeAttribute('maxlength'); c.value = 'x'.repeat(2001);"
    )
    browser.find_element(By.ID, "run-button").click()
    summary = summary_of(browser)
    items = [li.text for li in summary.find_elements(By.CSS_SELECTOR, "li")]
    assert "Prompt: is required" in items, items
    assert any(i.startswith("Seed: ") and "minimum of 0" in i for i in items), items
    assert any(i.startswith("Negative prompt: ") for i in items), items
    assert "negative_prompt" not in summary.text and "inputs." not in summary.text
    assert "ERR_" not in summary.text
    title = summary.find_element(By.CSS_SELECTOR, ".error-title")
    assert title.text == "Some inputs need a change:"
    assert browser.find_element(By.ID, "err-prompt").text == "is required"


def test_the_header_shows_the_balance_and_follows_a_run(
    browser: Any, app: LiveApp, demo_key: str
) -> None:
    sign_in(browser, app, demo_key, "/models/cartoon-portraits")
    assert balance_text(browser) == f"{DEMO_CREDITS} credits"
    browser.find_element(By.ID, "in-prompt").send_keys("a fox")
    assert run_and_finish(browser)[-1] == "COMPLETED"
    box = browser.find_element(By.ID, "balance-amount")
    wait_for(browser, lambda d: box.text == f"{DEMO_CREDITS - PRICE} credits")
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "sign-in-link").is_displayed())
    assert not browser.find_element(By.ID, "balance").is_displayed()


def test_the_finished_image_fits_a_phone_screen(browser: Any, app: LiveApp, demo_key: str) -> None:
    set_viewport(browser, PHONE)
    try:
        sign_in(browser, app, demo_key, "/models/cartoon-portraits")
        browser.find_element(By.ID, "in-prompt").send_keys("a fox on a phone")
        assert run_and_finish(browser)[-1] == "COMPLETED"
        image = browser.find_element(By.CSS_SELECTOR, "#result img.output-image")
        wait_for(browser, lambda d: d.execute_script("return arguments[0].complete", image))
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
            " width: r.width, height: window.innerHeight, inner: window.innerWidth};",
            image,
        )
        assert box["width"] > PHONE[0] / 2, box  # shown large, not as a thumbnail
        assert box["top"] >= 0 and box["bottom"] <= box["height"], box
        assert box["left"] >= 0 and box["right"] <= box["inner"], box
    finally:
        set_viewport(browser, DESKTOP)
