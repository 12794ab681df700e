"""Headless Chromium through Selenium, and the demo app on a loopback port, for the
browser tests (tests/browser/) and the screenshots (``python -m bench.screenshots``).

Only Debian's ``chromium`` and ``chromium-driver`` are used: Selenium Manager is kept
offline and never downloads a browser or a driver.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from entrypoints.config import Settings
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import create_app
from entrypoints.seed.run import SeedReport, seed_catalog, seed_demo

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 800)
PHONE = (390, 844)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def browser_missing() -> str | None:
    """Why headless Chromium cannot be driven here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    return None


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    """A headless Chromium of ``size`` (CSS pixels) with its own throwaway profile."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tarsify-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        set_viewport(driver, size)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver: Any, size: tuple[int, int]) -> None:
    """Make the page ``size`` CSS pixels (a phone's width makes it a mobile viewport)."""
    # --window-size sets the outer window; this sets what the page itself gets.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600},
    )


def demo_settings(**overrides: Any) -> Settings:
    """The demo (``serve --demo``) on the memory store, with short simulated runs."""
    values: dict[str, Any] = {
        "database_url": "memory://",
        "gpu_provider": "simulator",
        "simulator_queue_seconds": 0.2,
        "simulator_run_seconds": 0.6,
        "status_poll_min_interval": 0.0,
        "reconciler_enabled": False,
        "blob_store": "memory",
        "log_level": "WARNING",
        "demo_sign_in": True,
    }
    values.update(overrides)
    return Settings.from_variables(**values)


def _free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveApp:
    """The app on 127.0.0.1 (a free port), served from its own thread and event loop,
    with the demo catalog, users and models seeded."""

    def __init__(self, settings: Settings) -> None:
        # The port is chosen before the app is built: the file links it hands out name it.
        self.port = _free_port()
        self.settings = settings.with_variables(HOST="127.0.0.1", PORT=self.port)
        self.container: Container = build_container(self.settings)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(create_app(self.container), access_log=None)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run ``coro`` on the app's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def start(self) -> str:
        """Start serving; returns the base URL."""
        self.thread.start()
        self.run(self._start())
        return self.url

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        catalog = await resolve(self.container.catalog_service)
        report = SeedReport()
        await seed_catalog(catalog, {}, report)
        accounts = await resolve(self.container.account_service)
        studio = await resolve(self.container.studio_service)
        credits = await resolve(self.container.credits_service)
        await seed_demo(accounts, catalog, studio, report, credits)

    def stop(self) -> None:
        """Stop serving and close the loop."""
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def live_app(settings: Settings | None = None) -> Iterator[LiveApp]:
    """A started ``LiveApp`` (the demo settings by default), stopped on exit."""
    app = LiveApp(settings or demo_settings())
    app.start()
    try:
        yield app
    finally:
        app.stop()
