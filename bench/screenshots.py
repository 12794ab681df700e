"""``python -m bench.screenshots``: PNGs of every page at desktop and phone widths.

Starts the demo app (memory store, simulator) on a loopback port, signs in as the demo
consumer, runs both demo models so the history has an image and a sound, and saves
``docs/screenshots/{page}-{desktop,phone}.png`` (1280x800 and 390x844 CSS pixels, the
top of each page).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.browser import DESKTOP, PHONE, LiveApp, browser_missing, chromium, live_app
from entrypoints.config import configure_logging

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
RUNS = (("cartoon-portraits", "a red fox in a garden"), ("storyteller-voice", "Once upon a time"))
SIZES = {"desktop": DESKTOP, "phone": PHONE}
TIMEOUT = 20


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.1).until(condition)


def _sign_in(driver: Any, app: LiveApp) -> None:
    from selenium.webdriver.common.by import By

    driver.get(app.url + "/sign-in?next=/")
    driver.find_element(By.ID, "demo-sign-in").click()
    _wait(driver, lambda d: d.current_url == app.url + "/")


def _run(driver: Any, app: LiveApp, slug: str, prompt: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{app.url}/models/{slug}")
    driver.find_element(By.ID, "in-prompt").send_keys(prompt)
    driver.find_element(By.ID, "run-button").click()
    status = driver.find_element(By.ID, "run-status")
    _wait(driver, lambda d: status.get_attribute("data-status") == "COMPLETED")


def _shoot(driver: Any, app: LiveApp, size_name: str, out: Path) -> list[Path]:
    """The pages at one size: the marketplace, the model page with its result, the
    history, the sign-in page and the API docs."""
    from selenium.webdriver.common.by import By

    saved = []

    def save(name: str, top: str | None = None) -> None:
        """Save the page scrolled to its top, or to the element ``top``."""
        driver.execute_script(
            "const top = arguments[0] && document.querySelector(arguments[0]);"
            "if (top) top.scrollIntoView(); else window.scrollTo(0, 0);"
            "document.activeElement.blur()",
            top,
        )
        path = out / f"{name}-{size_name}.png"
        driver.save_screenshot(str(path))
        saved.append(path)

    driver.get(app.url + "/")
    save("marketplace")
    _run(driver, app, *RUNS[0])
    # On a phone the result is below the form: show it, as the page does after a run.
    save("model", "#result-title" if size_name == "phone" else None)
    driver.get(app.url + "/executions")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) >= 2)
    save("executions")
    driver.get(app.url + "/sign-in")
    save("sign-in")
    driver.get(app.url + "/docs")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
    save("docs")
    return saved


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; 2 when Chromium is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    args = parser.parse_args(argv)
    missing = browser_missing()
    if missing:
        print(f"bench.screenshots: {missing}", file=sys.stderr)
        return 2
    configure_logging("ERROR", "console")  # the app's access log is not the point here
    args.out.mkdir(parents=True, exist_ok=True)
    with live_app() as app:
        for size_name, size in SIZES.items():
            with chromium(size) as driver:
                _sign_in(driver, app)
                for slug, prompt in RUNS if size_name == "desktop" else ():
                    _run(driver, app, slug, prompt)
                for path in _shoot(driver, app, size_name, args.out):
                    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
