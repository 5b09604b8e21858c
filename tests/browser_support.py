"""Helpers for tests that drive the real app: a ``python app.py`` server and a Chromium page.

Reusable by every browser test (Compare/Models tabs, the MOS study)::

    from browser_support import serve_app, browser_page, screenshot

    @pytest.fixture(scope="module")
    def app_url():
        with serve_app(extra_env={"SR_ARENA_MOS_DB": str(tmp_db)}) as url:
            yield url

    def test_something(app_url):
        with browser_page(app_url) as page:
            page.get_by_text("Compare").click()
            screenshot(page, "compare-start")

Chromium is Debian's ``/usr/bin/chromium`` (``SR_ARENA_CHROMIUM`` overrides); Playwright's own
browser download is not needed. Tests skip with a reason when Playwright or Chromium is
missing (CI installs both). Screenshots and server logs go to ``test-artifacts/``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM_PATH = os.environ.get("SR_ARENA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclasses.dataclass
class AppServer:
    """A running ``python app.py``: its URL, its process (``pid`` is the Python interpreter itself,
    no shell in between) and its log file."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """Process id of the app's Python interpreter (what ``os.kill(pid, SIGKILL)`` should hit)."""
        return self.process.pid


@contextlib.contextmanager
def app_server(extra_env: Mapping[str, str] | None = None, timeout: float = 240.0,
               log_name: str = "app-server", port: int | None = None) -> Iterator[AppServer]:
    """Like :func:`serve_app` but yields an :class:`AppServer` (pid, process); ``port`` picks the port,
    e.g. to restart on the same origin so the browser keeps its ``localStorage`` (BrowserState).

    The process is stopped when the block ends, unless the test already killed it.
    """
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    port = port or free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log_path = ARTIFACTS_DIR / f"{log_name}.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not _serves(url):
                if process.poll() is not None:
                    pytest.fail(f"app.py exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"app.py did not serve {url} within {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.5)
            yield AppServer(url, port, process, log_path)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextlib.contextmanager
def serve_app(extra_env: Mapping[str, str] | None = None, timeout: float = 240.0,
              log_name: str = "app-server") -> Iterator[str]:
    """Run ``python app.py`` on a free loopback port until the block ends; yields its URL.

    ``extra_env`` is added to the environment (data directories, limits, ...). The server's
    output goes to ``test-artifacts/<log_name>.log``, and is quoted when it fails to start.
    """
    with app_server(extra_env, timeout, log_name) as server:
        yield server.url


def has_weights(model_id: str) -> bool:
    """Whether any checkpoint file for ``model_id`` is present (so the app will not show it unavailable)."""
    from sr_models.loader import candidates
    from sr_models.registry import get_card

    return any(candidates(model_id, source) for source in get_card(model_id).sources)


def require_browser() -> None:
    """Skip the calling test unless Playwright and a Chromium executable are installed."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM_PATH).is_file() or shutil.which(CHROMIUM_PATH)):
        pytest.skip(f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium, or set SR_ARENA_CHROMIUM)")


@contextlib.contextmanager
def browser_page(url: str | None = None, viewport: tuple[int, int] = (1400, 1000),
                 default_timeout_ms: int = 60_000) -> Iterator["object"]:
    """A Playwright page in headless Debian Chromium (downloads accepted); opens ``url`` if given."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                          accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(default_timeout_ms)
            if url:
                page.goto(url)
            yield page
        finally:
            browser.close()


def screenshot(page: "object", name: str, full_page: bool = True) -> Path:
    """Save a PNG screenshot as ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def download_zip(page, path: Path) -> tuple[set[str], dict]:
    """Click the page's download button, save the zip to ``path``; returns (file names, metrics.json)."""
    import json
    import zipfile

    with page.expect_download() as download_info:
        page.locator("#download").click()
    download_info.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist()), json.loads(archive.read("metrics.json"))
