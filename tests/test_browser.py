"""End to end in a real browser: Debian's Chromium driven by Playwright, in Chinese.

Upload the example data, start a tiny training (the conftest tiny model, 1 epoch), watch the
curve reach "done", scan, activate the adapter, chat side by side, and save screenshots under
test-output/. Skipped only without Chromium or Playwright (see browser_kit.py).
"""

from __future__ import annotations

import httpx
from browser_kit import EXAMPLES, OUT, chinese_page, live_studio, needs_chromium  # noqa: F401  (live_studio: a fixture)

pytestmark = needs_chromium


def test_seed_flow_in_chinese(live_studio, tiny_model_dir):
    from playwright.sync_api import expect

    url, home = live_studio
    with chinese_page(url + "/") as (page, errors):
        expect(page.locator("nav a[data-page=datasets]")).to_have_text("数据集")

        # Datasets: upload the bundled example, see its preview and statistics
        page.set_input_files("#ds-file", str(EXAMPLES / "wukong_train.json"))
        page.click("#ds-upload")
        expect(page.locator("#ds-upload-result .ok-box")).to_contain_text("155")
        expect(page.locator("#ds-preview tr")).to_have_count(51)
        expect(page.locator("#ds-tokens")).to_contain_text("token")
        expect(page.locator("#ds-findings .finding, #ds-findings .ok-box").first).to_be_visible(timeout=20_000)  # a plan: seconds on 2 busy cores
        page.screenshot(path=str(OUT / "browser-datasets.png"), full_page=False)

        # Train: the tiny model, 1 epoch; the plan updates as we type
        page.click("nav a[data-page=train]")
        page.fill("#train-form [name=model]", str(tiny_model_dir))
        page.select_option("#train-form [name=data]", "wukong_train.json")
        page.fill("#train-form [name=name]", "wukong-tiny")
        page.fill("#train-form [name=epochs]", "1")
        page.fill("#train-form [name=batch_size]", "8")
        page.fill("#train-form [name=grad_accum]", "1")
        page.uncheck("#train-form [name=doctor]")
        page.check("#train-form [name=force]")
        # the form sends what was set; the recipe fills the rest (general replay, 5% held out for
        # eval: no probes were chosen), and the plan shown is the server's for exactly that
        given = {"model": str(tiny_model_dir), "data": "wukong_train.json", "epochs": 1, "batch_size": 8, "grad_accum": 1,
                 "doctor": False}
        plan = httpx.post(url + "/api/plan", json={"config": given}, timeout=60).json()
        total = plan["plan"]["total_steps"]
        assert plan["auto"]["mix_general"]["value"] > 0 and plan["auto"]["eval_split"]["value"] > 0
        expect(page.locator("#plan-numbers")).to_have_attribute("data-total-steps", str(total), timeout=15_000)
        assert page.evaluate("TRAIN.config()") == given
        expect(page.locator("#train-form [name=probes]")).to_have_value("")  # held out of the data, automatically
        expect(page.locator("#train-form [name=lr]")).to_have_attribute("placeholder", f"{plan['config']['lr']:g}")
        page.click("#train-start")
        expect(page.locator("#job-card")).to_have_attribute("data-status", "done", timeout=60_000)
        expect(page.locator("#chart-loss")).to_have_attribute("data-points", str(total))
        first_point_ms = page.evaluate("window.__firstPointMs")
        assert first_point_ms is not None and first_point_ms > 0
        (OUT / "first-curve-point-ms.txt").write_text(f"{first_point_ms}\n")
        page.screenshot(path=str(OUT / "browser-train.png"), full_page=True)

        # Adapters: scan, activate
        page.click("nav a[data-page=adapters]")
        page.click("#ad-scan")
        row = page.locator("#ad-rows tr[data-name='wukong-tiny']")
        expect(row).to_be_visible()
        row.locator("[data-act=activate]").click()
        expect(row.locator(".badge.done")).to_have_text("已激活")

        # Chat: adapter and base side by side on one prompt
        page.click("nav a[data-page=chat]")
        expect(page.locator("#ch-adapter")).to_have_value("wukong-tiny")
        page.fill("#ch-max", "12")
        page.fill("#ch-prompt", "你是谁？")
        page.click("#ch-send")
        expect(page.locator(".msg.assistant[data-done='1']")).to_have_count(2, timeout=20_000)
        page.screenshot(path=str(OUT / "browser-chat.png"), full_page=True)
        assert not errors, errors
    print(f"\nstart → first curve point: {first_point_ms} ms; screenshots in {OUT}")
