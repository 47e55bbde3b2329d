"""Replaying a training curve of N points into the train page's chart, in Chromium: the
hand-written SVG chart the studio had before (one full redraw per point; read from git at the
commit given) against StudioChart on uPlot (points appended, one draw per animation frame).
Median of 3 runs each.

    python bench/chart_replay.py [--old-commit 7cc49a5]     # needs /usr/bin/chromium and playwright
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OLD = """(n) => { const el = document.createElement('div'); el.style.width = '800px'; document.body.appendChild(el);
  const c = new LineChart(el, [{key: 'loss', label: () => 'loss', color: '#000'}]); const t0 = performance.now();
  for (let i = 1; i <= n; i++) c.add('loss', i, 3 / Math.sqrt(i));
  const ms = performance.now() - t0; el.remove(); return ms; }"""
NEW = """async (n) => { const el = document.createElement('div'); el.style.width = '800px'; document.body.appendChild(el);
  const c = new StudioChart(el, {series: [{key: 'raw', label: () => 'loss', color: '#000'}, {key: 'loss', label: () => 's', color: '#00f'}],
    smooth: {from: 'raw', key: 'loss', weight: 0.8}}); const t0 = performance.now();
  for (let i = 1; i <= n; i++) c.push(i, {raw: 3 / Math.sqrt(i)});
  await new Promise((r) => { const w = () => (el.dataset.points === String(n) ? r() : requestAnimationFrame(w)); w(); });
  const ms = performance.now() - t0; c.observer.disconnect(); c.plot.destroy(); el.remove(); return ms; }"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old-commit", default="7cc49a5", help="a commit with src/lorastudio/server/static/chart.js")
    args = ap.parse_args()
    old_js = subprocess.run(["git", "show", f"{args.old_commit}:src/lorastudio/server/static/chart.js"],
                            capture_output=True, text=True, check=True).stdout

    import uvicorn
    from playwright.sync_api import sync_playwright

    from lorastudio.server import create_app

    app = create_app(home=Path(tempfile.mkdtemp()) / "home", start_runner=False, device="cpu")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8791, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto("http://127.0.0.1:8791/#train")
        page.wait_for_selector("body[data-ready=train]")
        page.add_script_tag(content=old_js)
        for n in (500, 2000, 5000):
            old = [page.evaluate(OLD, n) for _ in range(3)]
            new = [page.evaluate(NEW, n) for _ in range(3)]
            out[n] = {"old_svg_ms": round(statistics.median(old)), "uplot_ms": round(statistics.median(new))}
            print(n, out[n], file=sys.stderr)
        browser.close()
    server.should_exit = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
