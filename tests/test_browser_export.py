"""The adapters page's Export in a real browser, in Chinese: pick a format, watch the progress,
see the check's numbers, download the file. Skipped only without Chromium or Playwright."""

from __future__ import annotations

import shutil

from browser_kit import OUT, chinese_page, live_studio, needs_chromium  # noqa: F401  (live_studio: a fixture)
from server_fakes import tiny_trained_run

pytestmark = needs_chromium


def test_export_a_lora_gguf_from_the_adapters_page(live_studio, tiny_model_dir, tmp_path_factory):
    from playwright.sync_api import expect

    url, home = live_studio
    shutil.copytree(tiny_trained_run(tmp_path_factory.getbasetemp(), tiny_model_dir), home / "runs" / "wk")
    with chinese_page(url + "/#adapters") as (page, errors):
        page.click("#ad-rows tr[data-name=wk] [data-act=export]")
        expect(page.locator("#ex-card")).to_contain_text("导出 wk")
        page.select_option("#ex-format", "gguf-lora")
        expect(page.locator("#ex-quant option")).to_have_count(2)  # f32, f16
        expect(page.locator("#ex-only-box")).to_be_hidden()
        page.click("#ex-start")
        expect(page.locator("#ex-status .ok-box")).to_contain_text("已导出并通过检查", timeout=180_000)
        expect(page.locator("#ex-status")).to_contain_text("贪心回答 5/5 相同")
        expect(page.locator("#ex-status")).to_contain_text("wk-gguf-lora-f32.gguf")
        page.screenshot(path=str(OUT / "browser-export.png"), full_page=False)
        href = page.locator("#ex-status a[download]").get_attribute("href")
        got = page.request.get(url + href)
        assert got.status == 200 and got.body()[:4] == b"GGUF"
        assert errors == []
