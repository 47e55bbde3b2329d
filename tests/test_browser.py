"""End to end in a real browser: Debian's Chromium driven by Playwright, in Chinese.

Upload the example data, start a tiny training (the conftest tiny model, 1 epoch), watch the
curve reach "done", scan, activate the adapter, chat side by side, and save screenshots under
test-output/. Skipped only without Chromium or Playwright (see browser_kit.py).
"""

from __future__ import annotations

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
        # 155 samples and 31 general replay samples (the recipe's, as the form leaves it out), batch 8
        expect(page.locator("#plan-numbers")).to_have_attribute("data-total-steps", "24", timeout=15_000)
        page.click("#train-start")
        expect(page.locator("#job-card")).to_have_attribute("data-status", "done", timeout=60_000)
        expect(page.locator("#chart-loss")).to_have_attribute("data-points", "24")
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
