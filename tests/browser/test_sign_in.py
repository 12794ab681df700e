"""Where the sign-in page goes afterwards: a path of this site, as Chromium parses it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from selenium.webdriver.common.by import By

from bench.browser import LiveApp

from .test_journey import wait_for


def other_origin(app: LiveApp) -> str:
    """A different origin on loopback ("localhost" for "127.0.0.1"): a redirect the page
    must not follow, and nothing leaves the machine if it does."""
    parts = urlsplit(app.url)
    return f"localhost:{parts.port}"


# ``next`` values that are another site once the browser has parsed them: it drops tabs,
# newlines and carriage returns anywhere in a URL, and reads "\" as "/".
OFF_SITE = [
    "/\t/{host}/",
    "/\n/{host}/",
    "/\r\n/{host}/",
    "/\\{host}/",
    "/\t\\{host}/",
    "\\/{host}/",
    "//{host}/",
    " //{host}/",
    "http://{host}/",
    "\thttp://{host}/",
    "javascript:alert(1)",
    "executions",
]


def land_after_sign_in(browser: Any, app: LiveApp, wanted: str) -> str:
    browser.get(f"{app.url}/sign-in?next={quote(wanted, safe='')}")
    browser.find_element(By.ID, "demo-sign-in").click()
    wait_for(browser, lambda d: "/sign-in" not in d.current_url)
    return str(browser.current_url)


@pytest.mark.parametrize("template", OFF_SITE)
def test_a_next_that_leaves_the_site_lands_on_the_home_page(
    browser: Any, app: LiveApp, template: str
) -> None:
    landed = land_after_sign_in(browser, app, template.format(host=other_origin(app)))
    assert landed == app.url + "/"


def test_a_path_of_this_site_is_followed_with_its_query_and_fragment(
    browser: Any, app: LiveApp
) -> None:
    landed = land_after_sign_in(browser, app, "/executions?status=COMPLETED#top")
    assert landed == app.url + "/executions?status=COMPLETED#top"
