"""Fixtures of the browser tests: the demo app on a loopback port and headless Chromium.

A missing Chromium fails these tests (CI installs it: .ci/run); they are skipped only
when it is missing *and* TARSIFY_SKIP_BROWSER=1 says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.auth.jwt import mint_token
from bench.browser import DESKTOP, LiveApp, browser_missing, chromium, live_app
from entrypoints.seed.run import DEMO_DEVELOPER
from tarsify.ports.identity import Audience


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``browser``; skip them only when asked to and Chromium is absent."""
    missing = browser_missing()
    for item in items:
        if "tests/browser/" not in item.nodeid:
            continue
        item.add_marker(pytest.mark.browser)
        if missing and os.environ.get("TARSIFY_SKIP_BROWSER") == "1":
            item.add_marker(pytest.mark.skip(reason=f"TARSIFY_SKIP_BROWSER=1 and {missing}"))


@pytest.fixture
def app() -> Iterator[LiveApp]:
    """The demo (``serve --demo``) on the memory store, short simulated runs; a new one
    for each test (it starts in a fraction of a second), so tests share no history."""
    with live_app() as started:
        yield started


@pytest.fixture(scope="package")
def driver() -> Iterator[Any]:
    """One headless Chromium for every test of the package (desktop size)."""
    missing = browser_missing()
    if missing:
        pytest.fail(f"{missing}; set TARSIFY_SKIP_BROWSER=1 to skip the browser tests")
    with chromium(DESKTOP) as started:
        yield started


@pytest.fixture
def browser(driver: Any, app: LiveApp) -> Iterator[Any]:
    """The browser on a blank page of the app, signed out, at desktop size."""
    driver.get(app.url + "/web/static/app.css")
    driver.execute_script("window.sessionStorage.clear()")
    yield driver
    driver.execute_script("window.sessionStorage.clear()")


@pytest.fixture
def demo_key(app: LiveApp) -> str:
    """A fresh API key of the demo consumer."""
    reply = requests.post(app.url + "/web/demo-sign-in", timeout=10)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["key"])


@pytest.fixture
def developer_headers(app: LiveApp) -> dict[str, str]:
    """The demo developer's token."""
    secret = app.settings.auth.jwt_secret.get_secret_value()
    token = mint_token(
        secret, Audience.DEVELOPERS, DEMO_DEVELOPER.uid, DEMO_DEVELOPER.email, DEMO_DEVELOPER.name
    )
    return {"Authorization": f"Bearer {token}"}
