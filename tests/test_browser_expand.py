"""The datasets page's expand step in a real browser (Debian's Chromium via Playwright), in Chinese.

Expand the bundled wukong_seed.json, discard a few samples (one by one and a whole category),
switch the language and back (the choices survive), save under a Chinese name, and check what
was saved: the count, the discarded samples absent, the probes file chosen on the train page.
Screenshot: test-output/browser-expand.png. Skipped like tests/test_browser.py without Chromium.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from browser_kit import OUT, chinese_page, live_studio, needs_chromium  # noqa: F401  (live_studio: a fixture)

pytestmark = needs_chromium
NAME = "悟空扩充"


def test_expand_preview_discard_and_save_in_chinese(live_studio):
    from playwright.sync_api import expect

    url, home = live_studio
    with chinese_page(url + "/") as (page, errors):

        # Open the seed set and its expand form: Chinese labels, the persona markers filled in
        page.click("#ds-examples li[data-name='wukong_seed.json']")
        expect(page.locator("#ds-expand")).to_have_text("扩充")
        page.click("#ds-expand")
        card = page.locator("#ds-expand-card")
        expect(card.locator("#ex-preview")).to_have_text("预览")
        expect(card.locator("[name=markers]")).to_have_value("俺老孙,嘿嘿,呔")
        expect(card.locator("[name=endpoint]")).to_be_hidden()  # only for the model method
        page.fill("#ex-form [name=target]", "60")
        page.fill("#ex-form [name=holdout]", "10")
        page.click("#ex-preview")

        # The preview: 60 candidates grouped by category, all accepted; counts before → after
        boxes = page.locator("#ex-table input[data-id]")
        expect(boxes).to_have_count(60, timeout=20_000)
        expect(page.locator("#ex-kept")).to_have_text("60 / 60")
        expect(card.locator(".numbers")).to_contain_text("20 → 60")
        expect(page.locator("#ex-filters tr[data-filter=probe_leak]")).to_contain_text("与留出测试问题过近")
        expect(page.locator("#ex-table .badge.seed").first).to_have_text("原始")

        # Discard three samples by their boxes and the whole "greeting" category by its button
        dropped = []
        for i in (3, 11, 30):
            row = page.locator("#ex-table tr[data-row]").nth(i)
            dropped.append(row.locator("td.text").first.inner_text())
            row.locator("input[type=checkbox]").uncheck()
        greeting = page.locator("#ex-table tr.ex-group[data-cat=greeting] button[data-keep='0']")
        n_greeting = int(page.locator("#ex-cats tr[data-cat=greeting] td").nth(2).inner_text())
        greeting.click()
        kept = 60 - 3 - n_greeting + sum(1 for i in (3, 11, 30) if i < n_greeting)  # rows 0.. are greetings
        expect(page.locator("#ex-kept")).to_have_text(f"{kept} / 60")
        expect(page.locator("#ex-cats tr[data-cat=greeting] td.accepted")).to_have_text("0")
        expect(page.locator("#ex-table tr.discarded")).to_have_count(60 - kept)

        # A language switch re-renders the preview; the choices stay
        page.click("#lang-switch")
        expect(page.locator("#ex-keeping")).to_have_text(f"Keeping {kept} of 60")
        page.click("#lang-switch")
        expect(page.locator("#ex-keeping")).to_have_text(f"保留 {kept} / 60 条")
        expect(page.locator("#ex-table tr.discarded")).to_have_count(60 - kept)

        # Save under a Chinese name: the new dataset opens, its probes are chosen for training
        page.fill("#ex-name", NAME)
        page.click("#ex-save")
        expect(page.locator("#ex-saved-ok")).to_contain_text(f"已保存 {NAME}.json：{kept} 条样本")
        expect(page.locator("#ds-detail h2")).to_contain_text(f"{NAME}.json")
        expect(page.locator("#ds-uploads li[data-name='" + NAME + "_probes.jsonl']")).to_be_visible()
        expect(page.locator("#train-form [name=probes]")).to_have_value(f"{NAME}_probes.jsonl")
        expect(page.locator("#train-form [name=data]")).to_have_value(f"{NAME}.json")
        card.screenshot(path=str(OUT / "browser-expand.png"))
        assert not errors, errors

    saved = httpx.get(f"{url}/api/datasets/{quote(NAME)}.json/records", params={"limit": 500}).json()
    assert saved["total"] == kept
    prompts = {r["prompt"] for r in saved["records"]}
    assert not prompts & set(dropped)
    assert not any(r["category"] == "greeting" for r in saved["records"])
