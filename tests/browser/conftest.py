"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a real bot.

Chromium comes from Debian (`apt-get install chromium`), never from Playwright's own
download. `model_path` comes from tests/conftest.py; MPN_BROWSER_MODEL=<path> overrides
it (handy while developing the widget against a throwaway model).

`bot` here replaces tests/conftest.py's for these tests: its own Rasa (own SQLite tracker
store) with the portal's origin in its CORS list, which the last test stops and restarts.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from scripts.serve import ROOT, Bot, free_port
from tests.support.bots import served

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags that keep a headless Chromium off the network and quiet (no sync, updates, QUIC).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
API_TOKEN = "browser-tests-token"


class Portal:
    """A real HTTP server for host pages that embed the widget from another origin.

    The same server is two origins: http://127.0.0.1:PORT is listed in the bot's CORS
    origins (as CORS_ORIGINS would list a partner portal), http://localhost:PORT is not.
    (Pages faked with page.route would not do: Chromium treats them as public pages and
    refuses their requests to loopback addresses whatever CORS says.)
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def listed_origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def unlisted_origin(self) -> str:
        return f"http://localhost:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def portal() -> Iterator[Portal]:
    server = Portal()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = f"{CHROMIUM} missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    # launch() starts Chromium with a new, empty temporary profile of its own.
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def bot(request: pytest.FixtureRequest, portal: Portal) -> Iterator[Bot]:
    """One action server + Rasa server (SQLite tracker store) for the whole session."""
    override = os.environ.get("MPN_BROWSER_MODEL")
    model = Path(override) if override else Path(request.getfixturevalue("model_path"))
    running = Bot(model=model, api_token=API_TOKEN)
    running.cors = f"{running.url} {portal.listed_origin}"
    with served(running) as started:
        yield started


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh browser profile (empty localStorage); `@pytest.mark.locale("zh-CN")` etc."""
    marker = request.node.get_closest_marker("locale")
    locale = marker.args[0] if marker else "ja-JP"
    ctx = browser.new_context(locale=locale, viewport={"width": 420, "height": 760})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Any alert/confirm/prompt means injected markup ran (or a stray dialog): fail.
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not dialogs, f"unexpected dialogs: {dialogs}"


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium against real servers")
    config.addinivalue_line("markers", "locale(code): browser locale for the test's context")
