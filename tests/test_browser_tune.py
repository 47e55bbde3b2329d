"""Tune from the train page in a real browser (Debian's Chromium, Playwright, Chinese UI): start a
tune of two trials on the conftest tiny model, watch the trials table fill in while it runs and
end with a ★ best, then chat with the best adapter. Screenshots: test-output/browser-tune.png
(done) and browser-tune-running.png (one trial in).
Skipped, like test_browser.py, without /usr/bin/chromium or the playwright package."""

from __future__ import annotations

from browser_kit import OUT, chinese_page, live_studio, needs_chromium  # noqa: F401  (live_studio: a fixture)

pytestmark = needs_chromium


def test_tune_from_the_train_page_in_chinese(live_studio, tiny_model_dir):
    from playwright.sync_api import expect

    url, home = live_studio
    with chinese_page(url + "/#train") as (page, errors):
        expect(page.locator("#tune-start")).to_have_text("自动调参")

        page.fill("#train-form [name=model]", str(tiny_model_dir))
        page.select_option("#train-form [name=data]", "wukong_train.json")

        # the probes the wukong data comes with; two trials within a small budget
        page.select_option("#train-form [name=probes]", "wukong_probes.jsonl")
        page.fill("#train-form [name=name]", "wk-tune")
        page.fill("#tune-budget", "3m")
        page.fill("#tune-max", "2")
        page.click("#tune-start")
        rows = page.locator("#tune-trials tr[data-trial]")
        # the tune's process imports torch first: up to a minute on 2 busy cores
        expect(page.locator("#tune-trials tr[data-current='trial-1']")).to_be_visible(timeout=90_000)
        expect(page.locator("#job-card")).to_have_attribute("data-status", "running")
        expect(rows).to_have_count(1, timeout=60_000)  # the first trial's row, while the second still runs
        assert page.locator("#job-card").get_attribute("data-status") == "running"
        page.screenshot(path=str(OUT / "browser-tune-running.png"), full_page=True)
        expect(page.locator("#job-card")).to_have_attribute("data-status", "done", timeout=90_000)
        expect(rows).to_have_count(2)
        expect(page.locator("#tune-trials tr.best")).to_have_count(1)
        expect(page.locator("#tune-trials tr.best td.star")).to_have_text("★")
        expect(page.locator("#tune-trials thead")).to_contain_text("语气")
        expect(rows.nth(1)).to_contain_text("学习率 0.0004")  # trial 2 doubles the recommended learning rate
        expect(page.locator("#tune-done")).to_contain_text("wk-tune")
        assert page.locator("#job-card .charts").is_hidden()
        page.locator("#tune-box").scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "browser-tune.png"), full_page=True)

        # the best adapter is in the registry: chat with it
        page.click("#tune-chat")
        expect(page.locator("#page-chat")).to_be_visible()
        expect(page.locator("#ch-adapter")).to_have_value("wk-tune", timeout=20_000)
        assert (home / "runs" / "wk-tune" / "adapter" / "adapter_model.safetensors").is_file()
        assert not errors, errors
