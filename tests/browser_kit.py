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


@contextmanager
def studio_page(url: str, lang: str):
    """(page, errors) like `chinese_page`, in `lang` ("zh-CN" or "en")."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", f"--lang={lang}"])
        try:
            page = browser.new_page(locale=lang, viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            yield page, errors
        finally:
            browser.close()


# Words a Chinese page keeps in Latin letters: names of formats, libraries, units and keys.
LATIN_TERMS = {"Alpaca", "ShareGPT", "OpenAI", "messages", "JSON", "JSONL", "json", "jsonl", "LoRA", "alpha", "token",
               "KL", "MLP", "CPU", "GPU", "CUDA", "Apple", "Hub", "ID", "MB", "KB", "NaN", "zip", "Top", "Ctrl", "Enter",
               "UTF", "http", "https", "logits", "nats", "ChatML"}

# Visible text that is not the page's own: names, codes, a message's parameters (.param), what
# users and models wrote, and the server's words not yet in the catalogue (.core-text: checked apart).
EXEMPT = ("code, pre, kbd, samp, input, textarea, select, option, script, style, .core-text, .user-text, .file-name, "
          ".param, #lang-switch")

_VISIBLE_TEXT = """(exempt) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim(), el = n.parentElement;
    if (!text || !el || el.closest(exempt)) continue;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (!el.offsetParent && style.position !== "fixed") continue;
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
    if (el.closest("details:not([open])") && !el.closest("summary")) continue;
    out.push([text, el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "")]);
  }
  return out;
}"""


def untranslated(page, lang: str) -> list[tuple[str, str]]:
    """Visible text outside names, codes and user content that is in the other language:
    Latin words on a Chinese page (beyond LATIN_TERMS), Chinese characters on an English one."""
    import re

    bad = []
    for text, where in page.evaluate(_VISIBLE_TEXT, EXEMPT):
        if lang.startswith("zh"):
            words = [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in LATIN_TERMS]
            if words:
                bad.append((text, where))
        elif re.search(r"[\u4e00-\u9fff]", text):
            bad.append((text, where))
    return bad


def core_texts(page, allowed: str | None = None) -> list[str]:
    """The server's words shown as they came (no catalogue entry yet), visible now, except
    inside `allowed` (a selector)."""
    return page.evaluate("""(allowed) => [...document.querySelectorAll('.core-text')].filter((e) => e.offsetParent &&
      !e.closest('details:not([open])') && !(allowed && e.closest(allowed))).map((e) => e.textContent.trim())""", allowed)


def overlaps(page, selector: str = ".card, .chart, .error-box, .finding") -> list[tuple[str, str]]:
    """Pairs of visible elements (neither inside the other) whose boxes intersect."""
    return page.evaluate("""(sel) => {
      const els = [...document.querySelectorAll(sel)].filter((e) => e.offsetParent && e.getBoundingClientRect().width > 0);
      const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + String(e.className).split(' ')[0];
      const out = [];
      for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
        const a = els[i], b = els[j];
        if (a.contains(b) || b.contains(a)) continue;
        const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
        const w = Math.min(r.right, s.right) - Math.max(r.left, s.left), h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
        if (w > 1 && h > 1) out.push([name(a), name(b)]);
      }
      return out;
    }""", selector)


def page_width(page) -> tuple[int, int]:
    """(document width, window width): a page wider than its window scrolls sideways."""
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
