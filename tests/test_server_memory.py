"""The memory plan in the web studio: /api/plan's `memory`, DOES_NOT_FIT with its `apply`, the
models list's plan-only names, and the train page's memory table in a real browser (Chinese)."""

from __future__ import annotations

import json

import pytest
from browser_kit import OUT, chinese_page, live_studio, needs_chromium  # noqa: F401  (live_studio: a fixture)
from fastapi.testclient import TestClient
from server_fakes import FakeEngine

from lorastudio.server import create_app


@pytest.fixture
def client(tmp_path, tiny_model_dir):
    app = create_app(engine=FakeEngine(), home=tmp_path / "home", model=str(tiny_model_dir), device="cpu", start_runner=False)
    with TestClient(app) as c:
        yield c


def test_plan_returns_the_memory_split_checked_against_the_given_gpu(client):
    r = client.post("/api/plan", json={"config": {"data": "wukong_train.json", "gpu_memory": "8GB"}})
    assert r.status_code == 200, r.text
    m = r.json()["memory"]
    assert m["device"] == "cuda" and m["fits"] and m["budget"] == 8 * 1024**3
    assert m["total"] == m["weights"] + m["lora"] + m["activations"] + m["logits"] + m["overhead"]
    assert set(m["gib"]) == {"weights", "lora", "activations", "logits", "overhead", "total"}


def test_a_run_that_does_not_fit_is_an_error_with_its_apply(client):
    r = client.post("/api/plan", json={"config": {"data": "wukong_train.json", "gpu_memory": "520MB", "batch_size": 16,
                                                  "grad_accum": 1, "gradient_checkpointing": False}})
    body = r.json()
    [f] = [f for f in body["findings"] if f["code"] == "DOES_NOT_FIT"]
    assert f["severity"] == "error" and body["errors"] >= 1 and not body["memory"]["fits"]
    applied = {"data": "wukong_train.json", "gpu_memory": "520MB", "batch_size": 16, "grad_accum": 1,
               "gradient_checkpointing": False, **f["apply"]}
    again = client.post("/api/plan", json={"config": applied}).json()
    assert again["memory"]["fits"] and "DOES_NOT_FIT" not in {g["code"] for g in again["findings"]}


def test_a_bad_gpu_memory_names_the_field(client):
    r = client.post("/api/plan", json={"config": {"data": "wukong_train.json", "gpu_memory": "lots"}})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "config_error" and err["details"]["option"] == "--gpu-memory" and "24GB" in err["message"]


def test_models_offer_the_plan_only_configs(client):
    names = client.get("/api/models").json()["plan_only"]
    assert "qwen2.5-3b" in names and "llama-3.1-8b" in names


@needs_chromium
def test_train_page_shows_the_memory_table_in_chinese(live_studio, tiny_model_dir):
    from playwright.sync_api import expect

    url, _ = live_studio
    with chinese_page(url + "/#train") as (page, errors):
        page.fill("#train-form [name=model]", str(tiny_model_dir))
        page.select_option("#train-form [name=data]", "wukong_train.json")
        page.fill("#train-form [name=gpu_memory]", "8GB")
        table = page.locator("#memory-table")
        # the first plan of a session loads the tokenizer and times a few steps: slow on a busy 2-core CI machine
        expect(table).to_contain_text("可放入 8.00 GiB", timeout=45_000)
        expect(table).to_contain_text("模型权重")
        expect(page.locator("#plan-memory h4")).to_contain_text("每块 GPU")
        page.screenshot(path=str(OUT / "browser-memory.png"), full_page=False)

        # too small a GPU: the total in red, DOES_NOT_FIT, and its fix applied through the form
        page.fill("#train-form [name=batch_size]", "16")
        page.fill("#train-form [name=grad_accum]", "1")
        page.click("#train-form details.advanced summary")
        page.select_option("#train-form [name=gradient_checkpointing]", "false")
        page.fill("#train-form [name=gpu_memory]", "520MB")
        finding = page.locator("#plan-findings .finding[data-code=DOES_NOT_FIT]")
        expect(finding).to_contain_text("训练峰值需要", timeout=15_000)
        expect(table.locator("tr.bad")).to_contain_text("放不进")
        apply = finding.locator(".apply-fix").get_attribute("data-apply")
        finding.locator(".apply-fix").click()
        expect(finding).to_have_count(0, timeout=15_000)
        expect(table).to_contain_text("可放入")
        for field, value in json.loads(apply).items():
            shown = page.input_value(f"#train-form [name={field}]")
            assert shown == (str(value).lower() if isinstance(value, bool) else str(value)), (field, shown, value)
        page.screenshot(path=str(OUT / "browser-memory-fixed.png"), full_page=True)
        assert errors == []
