"""``/docs`` in a real browser: Swagger UI from this server, the signed-in key already
authorized, try-it-out sending real requests with query and header parameters."""

from __future__ import annotations

import json
from typing import Any

from selenium.webdriver.common.by import By

from bench.browser import LiveApp

from .test_journey import wait_for

RUN_BLOCK = "#operations-marketplace-runModel"
ME_BLOCK = "#operations-consumer-getConsumerMe"


def set_react_value(driver: Any, field: Any, value: str) -> None:
    """Replace a text area's value the way typing would (React keeps its own copy of it:
    ``clear()`` is undone, and typing a body key by key re-renders Swagger UI each time)."""
    driver.execute_script(
        """
        const [field, value] = arguments;
        const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
        setter.call(field, value);
        field.dispatchEvent(new Event("input", {bubbles: true}));
        """,
        field,
        value,
    )


def open_operation(driver: Any, block_id: str) -> Any:
    """Expand an operation and press "Try it out"; the operation's element."""
    block = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, block_id))[0]
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait_for(driver, lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    return block


def execute(driver: Any, block: Any) -> tuple[str, Any]:
    """Press Execute; the live answer's status and JSON body."""
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    selector = ".live-responses-table tbody .response-col_status"
    status = wait_for(driver, lambda d: block.find_elements(By.CSS_SELECTOR, selector))[0].text
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    return status, json.loads(body)


def authorize_dialog(driver: Any, press: str, key: str | None = None) -> None:
    """Open the Authorize dialog, type ``key`` if given, press ``press``, close it."""
    driver.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    dialog = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".modal-ux"))[0]
    if key is not None:
        dialog.find_element(By.CSS_SELECTOR, "input").send_keys(key)
    dialog.find_element(By.XPATH, f".//button[normalize-space()='{press}']").click()
    dialog.find_element(By.XPATH, ".//button[normalize-space()='Close']").click()


def test_authorize_and_try_it_out(browser: Any, app: LiveApp, demo_key: str) -> None:
    # The key the visitor signed in with is already in the Authorize dialog.
    browser.get(app.url + "/docs")
    browser.execute_script("sessionStorage.setItem('tarsify.apiKey', arguments[0])", demo_key)
    browser.refresh()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
    assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize.locked")
    me = open_operation(browser, ME_BLOCK)
    status, body = execute(browser, me)
    assert status == "200" and body["data"]["uid"] == "demo-consumer"

    # Logged out, the same request is refused; pasting the key in the dialog works.
    authorize_dialog(browser, "Logout")
    assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize.unlocked")
    status, body = execute(browser, me)
    assert status == "401" and body["error"]["code"] == "ERR_1001"
    authorize_dialog(browser, "Authorize", demo_key)
    status, body = execute(browser, me)
    assert status == "200"

    run = open_operation(browser, RUN_BLOCK)
    params = {
        (row.get_attribute("data-param-name"), row.get_attribute("data-param-in"))
        for row in run.find_elements(By.CSS_SELECTOR, "tr[data-param-name]")
    }
    assert {("wait", "query"), ("Prefer", "header"), ("Idempotency-Key", "header")} <= params
    run.find_element(By.CSS_SELECTOR, 'tr[data-param-name="slug"] input').send_keys(
        "cartoon-portraits"
    )
    run.find_element(By.CSS_SELECTOR, 'tr[data-param-name="wait"] input').send_keys("10")
    body_field = run.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    set_react_value(browser, body_field, '{"inputs": {"prompt": "a fox from the docs"}}')
    status, body = execute(browser, run)
    assert status == "200", body
    assert body["data"]["status"] == "COMPLETED"
    assert body["data"]["input"] == {"prompt": "a fox from the docs"}
