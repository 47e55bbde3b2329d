"""What the browser tests share: Debian's Chromium driven by Playwright, a studio served on
loopback, and a Chinese page that records JavaScript errors.

Tests using it are skipped only when /usr/bin/chromium or the playwright package is missing
(.ci/run installs both: `apt-get install -y chromium` and `pip install playwright`).
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from server_fakes import serve_loopback

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parents[1] / "test-output"  # screenshots
EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"

needs_chromium = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and importlib.util.find_spec("playwright")),
    reason="needs Debian's chromium (/usr/bin/chromium) and the playwright package",
)


@pytest.fixture
def live_studio(tmp_path, tiny_model_dir, monkeypatch):
    """(url, studio home) of a studio on the conftest tiny model, served on loopback."""
    from lorastudio.server import create_app

    home = tmp_path / "home"
    monkeypatch.setenv("LORASTUDIO_HOME", str(home))
    app = create_app(home=home, model=str(tiny_model_dir), device="cpu")
    with serve_loopback(app) as url:
        yield url, home


@contextmanager
def chinese_page(url: str):
    """(page, errors): a zh-CN page at `url`; `errors` collects uncaught JavaScript errors, which
    each test asserts empty at its end."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions"])
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            yield page, errors
        finally:
            browser.close()
