"""Real-browser fixtures: Debian's Chromium driven by Playwright, and live servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium_path() -> str | None:
    for candidate in (os.environ.get("SENTIERO_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = _chromium_path()
    if path is None:
        message = "Chromium not found: install Debian's chromium (scripts/test does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@dataclass
class LiveServer:
    url: str
    shutdown: Callable[[], None]


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Start a WSGI app on a free 127.0.0.1 port; stopped at the end of the test."""
    started: list[Any] = []

    def start(app: Any) -> LiveServer:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append(server)
        return LiveServer(f"http://127.0.0.1:{server.server_port}", server.shutdown)

    yield start
    for server in started:
        server.shutdown()
        server.server_close()
