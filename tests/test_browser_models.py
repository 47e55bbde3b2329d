"""The model pickers in a real browser, in Chinese: models laid out as Ollama, the Hugging Face
and ModelScope caches and LM Studio keep them (tests/model_layouts.py) are offered on the train
page (choosing one fills the model field and the plan follows) and on the chat page (choosing
one loads it as the base, and it answers). Skipped only without Chromium or Playwright."""

from __future__ import annotations

import httpx
from browser_kit import OUT, chinese_page, needs_chromium
from model_layouts import OLLAMA_OTHER, laid_out, ollama_model, places, tiny_gguf, tiny_gguf_bare  # noqa: F401
from server_fakes import serve_loopback

pytestmark = needs_chromium


def test_models_found_are_offered_on_the_train_and_chat_pages(laid_out, tiny_gguf_bare, tiny_model_dir, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from lorastudio.server import create_app

    ollama_model(laid_out["ollama"], "odd:7b", tiny_gguf_bare, template=OLLAMA_OTHER)
    home = tmp_path / "studio"
    monkeypatch.setenv("LORASTUDIO_HOME", str(home))
    with serve_loopback(create_app(home=home, model=str(tiny_model_dir), device="cpu")) as url, \
            chinese_page(url + "/") as (page, errors):
        page.click("nav a[data-page=train]")
        pick = page.locator("#model-pick")
        expect(pick.locator("optgroup[label='Ollama'] option[value='ollama:tiny:latest']")).to_have_count(1)
        expect(pick.locator("optgroup[label='Hugging Face 缓存'] option[value='hf:Org/Tiny-Instruct']")).to_have_count(1)
        expect(pick.locator("optgroup[label='魔搭 ModelScope 缓存'] option")).to_have_text(["Qwen/Tiny2.5-0.5B-Instruct · qwen2 163K F32"])
        expect(pick.locator("optgroup[label='LM Studio'] option")).to_have_count(1)
        expect(pick.locator("option[value='ollama:odd:7b']")).to_be_disabled()
        page.select_option("#train-form [name=data]", "wukong_train.json")
        with page.expect_request(lambda r: r.url.endswith("/api/plan") and "ollama:tiny:latest" in (r.post_data or ""),
                                 timeout=30_000):
            pick.select_option("ollama:tiny:latest")
        expect(page.locator("#train-form [name=model]")).to_have_value("ollama:tiny:latest")
        # the plan follows the model: the server's plan for it, the recipe's settings included
        plan = httpx.post(url + "/api/plan", json={"config": {"model": "ollama:tiny:latest", "data": "wukong_train.json"}},
                          timeout=60).json()["plan"]
        expect(page.locator("#plan-numbers")).to_have_attribute("data-total-steps", str(plan["total_steps"]), timeout=30_000)
        page.screenshot(path=str(OUT / "browser-models-train.png"), full_page=False)

        page.click("nav a[data-page=chat]")
        chat = page.locator("#ch-model")
        expect(chat).to_have_value(str(tiny_model_dir))  # the base the server started with
        expect(page.locator("#ch-model-state")).to_have_text("发送第一条消息时加载")
        chat.select_option("modelscope:Qwen/Tiny2.5-0.5B-Instruct")
        expect(page.locator("#ch-model-state")).to_have_text("当前对话模型：modelscope:Qwen/Tiny2.5-0.5B-Instruct",
                                                             timeout=30_000)
        page.select_option("#ch-adapter", "base")
        page.fill("#ch-max", "6")
        page.fill("#ch-prompt", "你是谁？")
        page.click("#ch-send")
        expect(page.locator(".msg.assistant[data-done='1']")).to_have_count(1, timeout=20_000)
        page.screenshot(path=str(OUT / "browser-models-chat.png"), full_page=False)
        assert not errors, errors
