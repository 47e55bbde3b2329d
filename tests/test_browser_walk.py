"""The whole studio in a real browser (Debian's Chromium, Playwright), once in Chinese and once in
English, at 1400x1000, as a new user walks it:

    upload (none chosen, 500 broken records, a wrong schema, a .txt, then good data), inspect,
    expand, plan with a bad setting (marked before any request) and with error findings, then
    "apply this fix"; train with the start-up phases and live curves, reload mid-run (the job
    and its settings come back), cancel, resume, the job card's verdict, the run page, the
    adapters list, chat side by side, tune; in Chinese, a language switch mid-way.

On every page: no text in the other language outside names, codes, numbers and user content,
no overlapping cards, charts or findings, and the page no wider than the window; the loss
chart's x axis reads 100 and 120 at those steps. Screenshots: test-output/walk-<lang>-*.png;
time to interactive per page: test-output/walk-<lang>-tti.json. Skipped only without Chromium
or Playwright (browser_kit.py).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from browser_kit import (  # noqa: F401  (live_studio: a fixture)
    EXAMPLES, OUT, core_texts, live_studio, needs_chromium, overlaps, page_width, studio_page, untranslated,
)

from lorastudio.i18n import catalogue, t

pytestmark = needs_chromium


def c_lang(lang: str) -> str:
    return "zh" if lang.startswith("zh") else "en"


def check_page(page, lang: str, where: str, allow_core: str | None = None) -> None:
    """The three layout and language rules, on what is visible now."""
    bad = untranslated(page, lang)
    assert not bad, (where, bad[:10])
    core = core_texts(page, allow_core)
    assert not core, (where, core[:5])
    assert not overlaps(page), (where, overlaps(page))
    width, window = page_width(page)
    assert width <= window, (where, width, window)


def shot(page, lang: str, name: str) -> None:
    page.screenshot(path=str(OUT / f"walk-{lang}-{name}.png"), full_page=True)


def go(page, name: str, tti: dict) -> None:
    """Open a page from the menu; its time to interactive is when its data is shown."""
    page.click(f"nav a[data-page={name}]")
    page.wait_for_selector(f"body[data-ready={name}]", timeout=30_000)
    tti.setdefault(name, page.evaluate(f"window.__tti['{name}']"))


def write_broken_files(folder):
    folder.mkdir(exist_ok=True)
    (folder / "broken.json").write_text(json.dumps([{"instruction": "", "output": ""}] * 500), encoding="utf-8")
    (folder / "wrong_schema.json").write_text(json.dumps([{"question": "q", "answer": "a"}] * 5), encoding="utf-8")
    (folder / "notes.txt").write_text("not a dataset", encoding="utf-8")
    return folder


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_walk_the_studio(live_studio, tiny_model_dir, tmp_path, lang):
    from playwright.sync_api import expect

    url, home = live_studio
    c = catalogue(c_lang(lang))
    files = write_broken_files(tmp_path / "files")
    tti: dict[str, int] = {}
    with studio_page(url + "/", lang) as (page, errors):
        page.wait_for_selector("body[data-ready=datasets]")
        tti["first_load"] = page.evaluate("window.__tti.first_load")  # navigation to the first page's data shown
        tti["datasets"] = page.evaluate("window.__tti.datasets")
        expect(page.locator("nav a[data-page=train]")).to_have_text(c["nav.train"])
        check_page(page, lang, "datasets")

        # ---- upload: nothing chosen, broken records, a wrong schema, a .txt; errors in the main pane, once
        page.click("#ds-upload")
        expect(page.locator("#ds-detail .error-box")).to_contain_text(c["error.no_file"])
        page.set_input_files("#ds-file", str(files / "broken.json"))
        page.click("#ds-upload")
        box = page.locator("#ds-detail .error-box[data-code=data_error]")
        expect(box).to_contain_text(c["error.data_error"].replace("{total}", "1000"))
        # one row per kind of problem (instruction empty, output empty), in the page's language
        expect(box.locator(".problems tbody tr[data-code=empty]")).to_have_count(2)
        expect(box.locator(".problems tbody tr").first).to_contain_text(t("data.empty", c_lang(lang), surface="web", field="instruction"))
        expect(box.locator(".problems .same").first).to_contain_text("499")
        assert page.locator(".error-box").count() == 1 and page.locator("#ds-upload-result .error-box").count() == 0
        assert page.locator("#ds-detail").bounding_box()["height"] < 600  # two kinds, not 1,000 rows
        check_page(page, lang, "upload broken")
        shot(page, lang, "upload-broken")
        page.set_input_files("#ds-file", str(files / "wrong_schema.json"))
        page.click("#ds-upload")
        expect(page.locator("#ds-detail .error-box")).to_contain_text(c["error.data_error"].replace("{total}", "5"))
        page.set_input_files("#ds-file", str(files / "notes.txt"))
        page.click("#ds-upload")
        expect(page.locator("#ds-detail .error-box")).to_contain_text(c["error.file_type"].replace("{name}", "notes.txt"))
        check_page(page, lang, "upload .txt")

        # ---- good data: inspect it
        page.set_input_files("#ds-file", str(EXAMPLES / "wukong_train.json"))
        page.click("#ds-upload")
        expect(page.locator("#ds-upload-result .ok-box")).to_contain_text("155")
        expect(page.locator("#ds-preview tr")).to_have_count(51)
        expect(page.locator("#ds-tokens b").first).to_be_visible(timeout=20_000)
        expect(page.locator("#ds-findings .finding, #ds-findings .ok-box").first).to_be_visible(timeout=20_000)
        check_page(page, lang, "inspect")
        shot(page, lang, "datasets")

        # ---- expand: a preview of the seed set, in the page's language
        page.click("#ds-examples li[data-name='wukong_seed.json']")
        page.click("#ds-expand")
        page.fill("#ex-form [name=target]", "40")
        page.fill("#ex-form [name=holdout]", "5")
        page.click("#ex-preview")
        expect(page.locator("#ex-table input[data-id]")).to_have_count(40, timeout=30_000)
        check_page(page, lang, "expand")
        shot(page, lang, "expand")

        own_data_with_placeholders(page, url, c, tmp_path, tiny_model_dir, lang, tti)

        # ---- plan: a bad setting is marked before any request; error findings; apply a fix
        go(page, "train", tti)
        plans = []
        page.on("request", lambda r: plans.append(r.url) if r.url.endswith("/api/plan") else None)
        page.fill("#train-form [name=model]", str(tiny_model_dir))
        page.dispatch_event("#train-form [name=model]", "change")
        page.select_option("#train-form [name=data]", "wukong_seed.json")
        page.fill("#train-form [name=epochs]", "1")
        expect(page.locator("#plan-findings .finding[data-code=TOO_FEW_STEPS]")).to_be_visible(timeout=20_000)
        sent = len(plans)
        page.fill("#train-form [name=lr]", "abc")
        lr = page.locator("#train-form [name=lr]")
        expect(lr).to_have_class(re.compile(r"\bbad\b"))
        expect(page.locator("#train-form label:has([name=lr]) .field-error")).to_have_text(c["validation.number"])
        page.wait_for_timeout(600)
        assert len(plans) == sent, "a plan was requested with a bad learning rate"
        page.fill("#train-form [name=lr]", "1e-4")
        expect(lr).not_to_have_class(re.compile(r"\bbad\b"))
        finding = page.locator("#plan-findings .finding[data-code=TOO_FEW_STEPS]")
        expect(finding).to_be_visible(timeout=20_000)
        expect(finding.locator(".badge.sev")).to_have_text(c["severity.error"])
        check_page(page, lang, "plan with findings")
        shot(page, lang, "plan-findings")
        apply_fix(page, url, c, tiny_model_dir)

        # ---- train: start-up phases, live curves; reload mid-run; cancel; resume
        page.select_option("#train-form [name=data]", "wukong_train.json")
        page.click("#train-form details.advanced summary")  # no general replay: the recipe would mix some in
        for name, value in (("epochs", "3"), ("batch_size", "1"), ("grad_accum", "1"), ("lr", "1e-4"), ("eval_split", "0.1"),
                            ("mix_general", "0"), ("name", "walk")):
            page.fill(f"#train-form [name={name}]", value)
        expect(page.locator("#plan-numbers")).to_have_attribute("data-total-steps", "417", timeout=20_000)  # 139 x 3
        page.evaluate("""() => { window.__phases = []; new MutationObserver(() => { const p = document.querySelector('#job-phases').dataset.phase;
          if (p && window.__phases.at(-1) !== p) window.__phases.push(p); }).observe(document.querySelector('#job-phases'), {attributes: true, childList: true}); }""")
        page.click("#train-start")
        expect(page.locator("#job-phases li.now .spinner")).to_be_visible(timeout=20_000)
        expect(page.locator("#job-phases li.now")).to_have_text(re.compile("|".join(
            re.escape(c[f"phase.{p}"]) for p in ("queued", "starting", "preparing", "first_step"))))
        check_page(page, lang, "starting")
        shot(page, lang, "train-starting")
        page.wait_for_function("Number(document.querySelector('#chart-loss').dataset.points) >= 30", timeout=90_000)
        phases = page.evaluate("window.__phases")
        assert "training" in phases and {"starting", "preparing"} & set(phases), phases
        points, counter = page.evaluate("[Number(document.querySelector('#chart-loss').dataset.points), "
                                        "document.querySelector('#job-step').textContent]")  # at one moment
        step = int(re.search(r"\d+", counter).group())
        assert abs(step - points) <= 5, (step, points)  # the counter follows the curve, not the checkpoints
        page.reload()
        page.wait_for_selector("body[data-ready=train]")
        expect(page.locator("#job-card")).to_have_attribute("data-status", "running", timeout=10_000)
        expect(page.locator("#train-form [name=batch_size]")).to_have_value("1")  # the running job's settings
        expect(page.locator("#train-form [name=epochs]")).to_have_value("3")
        expect(page.locator("#form-note")).to_contain_text("walk")
        page.wait_for_function("Number(document.querySelector('#chart-loss').dataset.points) >= 125", timeout=90_000)
        check_page(page, lang, "training")
        shot(page, lang, "train-running")
        page.click("#job-cancel")
        expect(page.locator("#job-card")).to_have_attribute("data-status", "cancelled", timeout=60_000)
        expect(page.locator("#job-resume")).to_be_visible()
        page.click("#job-resume")
        expect(page.locator("#job-card")).to_have_attribute("data-status", "done", timeout=180_000)
        expect(page.locator("#job-verdict .badge.verdict")).to_be_visible(timeout=10_000)
        assert int(page.get_attribute("#chart-loss", "data-points")) == 417
        assert int(page.get_attribute("#chart-loss", "data-marks")) >= 3  # checkpoints: each epoch and the cancel
        counts = dict(x.split(":") for x in page.get_attribute("#chart-loss", "data-counts").split(","))
        assert counts == {"raw": "417", "loss": "417", "eval": "3"}, counts  # raw, smoothed, eval loss per epoch
        ticks = page.get_attribute("#chart-loss", "data-xticks").split(",")
        assert "100" in ticks and all(re.fullmatch(r"\d+", x) for x in ticks), ticks
        check_x_ticks_at_100_and_120(page)
        assert float(page.get_attribute("#chart-lr", "data-yticks").split(",")[0]) >= 0  # no negative learning rate
        for live in page.locator("#job-findings .finding").all():  # a title in words, not the bare code
            assert len(live.inner_text()) > len(live.get_attribute("data-code")) + 10, live.inner_text()
        check_page(page, lang, "train done")
        shot(page, lang, "train-done")
        if lang.startswith("zh"):
            switch_language_and_back(page, c)

        # ---- the run page: verdict first, then bars, findings by moment, answers, details
        page.click("#job-verdict a")
        page.wait_for_selector("body[data-ready=doctor]")
        tti.setdefault("doctor", page.evaluate("window.__tti.doctor"))
        expect(page.locator(".verdict-box .badge.verdict")).to_be_visible()
        expect(page.locator("#dr-basis li").first).to_be_visible()
        expect(page.locator("#dr-report .stage h4").first).to_be_visible()
        expect(page.locator("#dr-report table.answers tr").first).to_be_visible()
        expect(page.locator("#dr-details")).not_to_have_attribute("open", "")
        check_page(page, lang, "run page")
        shot(page, lang, "run")

        # ---- adapters with their verdicts; chat side by side
        go(page, "adapters", tti)
        row = page.locator("#ad-rows tr[data-name=walk]")
        expect(row.locator(".badge.verdict")).to_be_visible()
        row.locator("[data-act=activate]").click()
        expect(row.locator(".badge.done")).to_have_text(c["ad.active"])
        check_page(page, lang, "adapters")
        shot(page, lang, "adapters")
        go(page, "chat", tti)
        page.fill("#ch-max", "12")
        page.fill("#ch-prompt", "你是谁？")
        page.click("#ch-send")
        expect(page.locator(".msg.assistant[data-done='1']")).to_have_count(2, timeout=30_000)
        check_page(page, lang, "chat")
        shot(page, lang, "chat")

        # ---- tune, then back to the training job: its charts fit again
        go(page, "train", tti)
        page.select_option("#train-form [name=probes]", "wukong_probes.jsonl")
        page.fill("#train-form [name=name]", "walk-tune")
        page.fill("#tune-budget", "2m")
        page.fill("#tune-max", "1")
        page.click("#tune-start")
        expect(page.locator("#job-card")).to_have_attribute("data-kind", "tune", timeout=20_000)
        expect(page.locator("#job-card")).to_have_attribute("data-status", re.compile("done|failed"), timeout=240_000)
        expect(page.locator("#tune-trials tr[data-trial]")).to_have_count(1)
        check_page(page, lang, "tune")
        shot(page, lang, "tune")
        page.click("#jobs-table tr[data-job='1'] [data-view]")  # the training job
        expect(page.locator("#job-card")).to_have_attribute("data-kind", "train")
        page.wait_for_function("Number(document.querySelector('#chart-loss').dataset.points) === 417", timeout=30_000)
        check_page(page, lang, "train after tune")
        assert not errors, errors

    (OUT / f"walk-{lang}-tti.json").write_text(json.dumps(tti, indent=1) + "\n")
    print(f"\n{lang}: time to interactive (ms) {tti}; screenshots test-output/walk-{lang}-*.png")


def own_data_with_placeholders(page, url: str, c: dict, tmp_path, model, lang: str, tti: dict) -> None:
    """A dataset of the user's own, an identity set with {{name}} and {{author}}: the train form
    shows a field per placeholder and the recipe's values (with "chosen from the data"), the
    probes are held out automatically (not the bundled wukong probes), filling the placeholders
    clears the finding, and fixes apply: one to a form field, one (a setting the form lacks) as a
    chip that is sent until removed."""
    from playwright.sync_api import expect

    records = [{"instruction": q, "output": f"我是{{{{name}}}}，由{{{{author}}}}开发的 AI 助手。{a}"} for q, a in (
        ("你是谁？", "很高兴认识你。"), ("你叫什么名字？", "有什么可以帮你？"), ("介绍一下你自己", "我可以回答问题、写作和翻译。"),
        ("谁开发了你？", "欢迎提问。"), ("你是哪家公司的产品？", "请多指教。"), ("你能做什么？", "我会尽力帮忙。"),
        ("Who are you?", "Nice to meet you."), ("What is your name?", "How can I help?"))] * 4
    path = tmp_path / "my_assistant.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    go(page, "datasets", tti)
    page.set_input_files("#ds-file", str(path))
    page.click("#ds-upload")
    expect(page.locator("#ds-upload-result .ok-box")).to_contain_text("32")
    expect(page.locator("#ds-placeholders")).to_contain_text("{{name}}")

    go(page, "train", tti)
    f = "#train-form "
    expect(page.locator(f + "[name=data]")).to_have_value("my_assistant.json")
    expect(page.locator("#vars-box input[data-var=name]")).to_be_visible(timeout=20_000)
    expect(page.locator("#vars-box input[data-var=author]")).to_be_visible()
    probes = page.locator(f + "[name=probes]")
    expect(probes).to_have_value("")
    assert page.eval_on_selector(f + "[name=probes]", "s => s.selectedOptions[0].textContent") == c["tr.probes.auto"]
    # the recipe's values for this data and model, in grey, and which the data chose
    plan = httpx.post(f"{url}/api/plan", json={"config": {"data": "my_assistant.json", "model": str(model)}}, timeout=60).json()
    epochs = page.locator(f + "[name=epochs]")
    expect(epochs).to_have_value("")
    expect(epochs).to_have_attribute("placeholder", str(plan["auto"]["epochs"]["value"]))
    expect(page.locator(f + "label:has([name=epochs]) .auto-why summary")).to_have_text(c["tr.auto.chosen"])
    expect(page.locator(f + "[name=markers]")).to_have_value("")
    finding = page.locator("#plan-findings .finding[data-code=UNFILLED_PLACEHOLDERS]")
    expect(finding).to_be_visible()
    check_page(page, lang, "own data")
    shot(page, lang, "own-data")

    finding.locator("#goto-vars").click()
    page.keyboard.type("小助手")
    expect(page.locator("#vars-box input[data-var=name]")).to_have_value("小助手")
    page.fill("#vars-box input[data-var=author]", "我的团队")
    expect(finding).to_have_count(0, timeout=20_000)
    assert page.evaluate("TRAIN.config().vars") == {"name": "小助手", "author": "我的团队"}

    # a fix for a field of the form ("more settings" opens); one for a setting it lacks: a chip
    grow = page.locator("#plan-findings .finding[data-code=TOO_FEW_SAMPLES] .apply-fix")
    target = json.loads(grow.get_attribute("data-apply"))["expand_to"]
    grow.click()
    expect(page.locator(f + "[name=expand_to]")).to_have_value(str(target))
    expect(page.locator(f + "details.advanced")).to_have_attribute("open", "")
    expect(page.locator("#plan-numbers")).not_to_have_attribute("data-total-steps", str(plan["plan"]["total_steps"]), timeout=20_000)
    page.evaluate("""() => document.querySelector('#plan-findings').insertAdjacentHTML('beforeend', findingsHTML([{code: 'NO_HELDOUT',
      severity: 'warning', evidence: {eval_samples: 0, probes: 0}, apply: {holdout: 8}}], {apply: true}))""")
    page.locator("#plan-findings .finding[data-code=NO_HELDOUT] .apply-fix").last.click()
    chip = page.locator("#extra-chips .chip[data-key=holdout]")
    expect(chip).to_contain_text(c["field.holdout"])
    assert page.evaluate("TRAIN.config().holdout") == 8
    expect(page.locator("#plan-findings .finding")).not_to_have_count(0, timeout=20_000)
    expect(page.locator("#plan-state .spinner")).to_have_count(0, timeout=20_000)  # planned again, with the chip's setting
    expect(probes).to_have_value("")
    assert "wukong" not in page.input_value(f + "[name=probes]")
    expect(page.locator("#vars-box input[data-var=name]")).to_have_value("小助手")  # kept while the data is grown
    check_page(page, lang, "own data, fixes applied")
    shot(page, lang, "own-data-fixed")
    chip.locator(".chip-x").click()
    expect(chip).to_have_count(0)
    assert page.evaluate("TRAIN.config().holdout") is None
    page.fill(f + "[name=expand_to]", "")
    page.click(f + "details.advanced summary")  # closed again, as a user would leave it


def apply_fix(page, url: str, c: dict, model) -> None:
    """A finding whose fix is a setting has "apply this fix": it fills the form and plans again.
    Until the preflight findings carry `apply`, the same finding is shown with one (the page's
    own renderer), so the button, the form and the new plan are exercised all the same."""
    from playwright.sync_api import expect

    config = {"data": "wukong_seed.json", "epochs": 1, "model": str(model)}
    findings = httpx.post(f"{url}/api/plan", json={"config": config}, timeout=60).json()["findings"]
    if not any(f.get("apply") for f in findings):
        steps = next(f for f in findings if f["code"] == "TOO_FEW_STEPS")
        page.evaluate("(f) => { document.querySelector('#plan-findings').innerHTML = findingsHTML([f], {apply: true}); }",
                      {**steps, "apply": {"epochs": 20, "batch_size": 2, "grad_accum": 2}})
    button = page.locator("#plan-findings .finding[data-code=TOO_FEW_STEPS] .apply-fix")
    expect(button).to_have_text(c["fix.apply"])
    fix_text = page.inner_text("#plan-findings .finding[data-code=TOO_FEW_STEPS] .fix")
    assert c["field.epochs"] in fix_text and "--" not in fix_text  # the form's field, not the flag
    before = page.get_attribute("#plan-numbers", "data-total-steps")
    button.click()
    assert page.input_value("#train-form [name=epochs]") != "1"
    page.wait_for_function(f"document.querySelector('#plan-numbers').dataset.totalSteps !== '{before}'", timeout=20_000)
    total = int(page.get_attribute("#plan-numbers", "data-total-steps"))
    assert total >= 100, total  # the plan was made again, with the fix
    expect(page.locator("#plan-findings .finding[data-code=TOO_FEW_STEPS]")).to_have_count(0)


def check_x_ticks_at_100_and_120(page) -> None:
    """Round steps keep their zeros: a chart of 130 steps as wide as the loss chart labels its
    ticks 0, 20, ..., 100, 120 (the hand-written chart drew "1" and "12")."""
    labels = page.evaluate("""async () => {
      const el = document.createElement('div'); el.style.width = document.querySelector('#chart-loss').clientWidth + 'px';
      document.querySelector('#job-card').appendChild(el);
      const chart = new StudioChart(el, {series: [{key: 'y', label: () => 'y', color: '#000'}]});
      for (let s = 1; s <= 130; s++) chart.push(s, {y: 1 / s});
      await new Promise((r) => setTimeout(r, 200));  // uPlot draws on its next task
      const ticks = el.dataset.xticks; chart.observer.disconnect(); chart.plot.destroy(); el.remove(); return ticks.split(',');
    }""")
    assert "100" in labels and "120" in labels, labels


def switch_language_and_back(page, c: dict) -> None:
    """The job card keeps its job and the charts relabel; nothing falls back to "no job yet"."""
    from playwright.sync_api import expect

    en = catalogue("en")
    page.click("#lang-switch")
    expect(page.locator("nav a[data-page=train]")).to_have_text(en["nav.train"])
    expect(page.locator("#job-status .badge").first).to_have_text(en["status.done"])
    expect(page.locator("#chart-lr .u-legend")).to_contain_text(en["chart.lr"])
    assert not page.locator("#job-none").is_visible()
    page.click("#lang-switch")
    expect(page.locator("#job-status .badge").first).to_have_text(c["status.done"])
    expect(page.locator("#chart-lr .u-legend")).to_contain_text(c["chart.lr"])
    assert int(page.get_attribute("#chart-loss", "data-points")) == 417
