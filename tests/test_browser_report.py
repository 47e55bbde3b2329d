"""The run page in a real browser, in Chinese, for an adapter that answers every prompt with one
line: the verdict reads "not useful" (it changed the model), and ANSWERS_COLLAPSED, NO_STOP and
PROBES_LEAK read in Chinese from their evidence. Skipped only without Chromium or Playwright."""

from __future__ import annotations

import json

from browser_kit import OUT, chinese_page, live_studio, needs_chromium, untranslated  # noqa: F401  (live_studio: a fixture)
from server_fakes import fake_run

pytestmark = needs_chromium

LINE = "俺老孙来也！"
REPORT = {
    "verdict": "not_learned",
    "basis": [{"name": "finding", "code": "ANSWERS_COLLAPSED", "ok": False, "what": "one answer to every prompt"}],
    "findings": [
        {"code": "ANSWERS_COLLAPSED", "severity": "error", "stage": "after", "title": "…", "fix": "…",
         "evidence": {"answers": 16, "same_answer_count": 15, "repeated_answer": LINE, "pair_share": 0.88,
                      "base_pair_share": 0.02, "distinct_3grams": 0.05, "base_distinct_3grams": 0.7, "similarity_ratio": 85,
                      "max_pair_share": 0.5, "kl_mean": 1.7, "training_pair_share": 0.03},
         "apply": {"lr": 0.0001, "epochs": 3}},
        {"code": "NO_STOP", "severity": "warning", "stage": "after", "title": "…", "fix": "…",
         "evidence": {"ran_to_limit": 12, "probes": 16, "base_ran_to_limit": 1, "max_new_tokens": 128,
                      "training_answer_tokens_median": 31, "training_fit_share": 0.97, "end_token": "<|im_end|>",
                      "end_stops_generation": True, "answers_without_end_of_turn": 0}},
        {"code": "PROBES_LEAK", "severity": "warning", "stage": "after", "title": "…", "fix": "…",
         "evidence": {"leaking": 3, "probes": 20, "share": 0.15, "exact": 1, "leak_ratio": 90, "examples": [],
                      "measured_on": "the 17 clean probes only", "probes_file": "wukong_probes.jsonl"}},
    ],
}


def test_a_collapsed_adapter_reads_not_useful_in_chinese(live_studio):
    from playwright.sync_api import expect

    url, home = live_studio
    run = fake_run(home / "runs", "collapsed")
    (run / "doctor.json").write_text(json.dumps(REPORT, ensure_ascii=False), encoding="utf-8")
    with chinese_page(url + "/#doctor/collapsed") as (page, errors):
        expect(page.locator(".verdict-box .badge.verdict")).to_have_text("没有用")
        expect(page.locator(".verdict-box")).to_contain_text("适配器改变了模型，但对每个问题都给出（几乎）相同的回答。")
        collapsed = page.locator("#dr-report .finding[data-code=ANSWERS_COLLAPSED]")
        expect(collapsed).to_contain_text(f"16 个留出问题中有 15 个得到（几乎）相同的回答：“{LINE}”（88% 的回答两两相似，基础模型为 2%）")
        expect(collapsed.locator(".fix")).to_contain_text("将「学习率」设为 0.0001，将「训练轮数」设为 3")
        expect(page.locator("#dr-report .finding[data-code=NO_STOP]")).to_contain_text("16 个回答中有 12 个一直写到 token 上限（128）")
        expect(page.locator("#dr-report .finding[data-code=PROBES_LEAK]")).to_contain_text("20 个测试问题中有 3 个就是训练问题或其近似改写")
        assert not untranslated(page, "zh-CN"), untranslated(page, "zh-CN")
        page.screenshot(path=str(OUT / "browser-report-not-useful.png"), full_page=True)
        assert errors == []
