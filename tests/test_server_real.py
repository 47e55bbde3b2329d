"""The studio with a real (tiny) model: the engine loads on first use, adapters are read from the
runs folder, and every face (chat, stream, /v1, template hash, merge) answers the same."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient
from server_fakes import tiny_trained_run

from lorastudio.serving.engine import ChatEngine

PROMPT = [{"role": "user", "content": "你是谁？"}]
GREEDY = {"max_new_tokens": 8, "temperature": 0}


@pytest.fixture
def studio(tmp_path, tmp_path_factory, tiny_model_dir):
    from lorastudio.server import create_app

    run = tiny_trained_run(tmp_path_factory.getbasetemp(), tiny_model_dir)
    home = tmp_path / "home"
    shutil.copytree(run, home / "runs" / "wukong-tiny")
    app = create_app(home=home, model=str(tiny_model_dir), start_runner=False, device="cpu")
    with TestClient(app) as c:
        yield c, home, app


def test_real_engine_answers_alike_on_every_face(studio, tiny_model_dir):
    c, home, app = studio
    assert c.get("/api/engine").json()["loaded"] is False  # loads on first use, not at start-up
    assert c.post("/api/adapters/wukong-tiny/activate").json() == {
        "loaded": True, "model": str(tiny_model_dir), "device": "cpu", "adapters": ["wukong-tiny"], "active": "wukong-tiny"}

    plain = c.post("/api/chat", json={"messages": PROMPT, "stream": False, "sampling": GREEDY}).json()
    assert plain["adapter"] == "wukong-tiny" and plain["n_tokens"] > 0
    streamed = c.post("/api/chat", json={"messages": PROMPT, "sampling": GREEDY}).text
    pieces = [json.loads(line[5:]) for line in streamed.splitlines() if line.startswith("data:")]
    assert "".join(p.get("text", "") for p in pieces).strip() == plain["text"]

    # parity with the engine used directly (greedy, same adapter, same template)
    direct = ChatEngine.load(str(tiny_model_dir))
    direct.add_adapter("wukong-tiny", home / "runs" / "wukong-tiny")
    from lorastudio.serving.engine import GenerationConfig

    assert direct.generate(PROMPT, "wukong-tiny", GenerationConfig(max_new_tokens=8)).text == plain["text"]

    v1 = c.post("/v1/chat/completions", json={"model": "wukong-tiny", "messages": PROMPT, "max_tokens": 8,
                                              "temperature": 0}).json()
    assert v1["choices"][0]["message"]["content"] == plain["text"] and v1["usage"]["prompt_tokens"] > 0

    # log-probabilities of the chosen tokens (the doctor's serving check compares them): the
    # adapter's differ from the base's on the same loaded weights
    def logprobs(model):
        r = c.post("/v1/chat/completions", json={"model": model, "messages": PROMPT, "max_tokens": 4, "temperature": 0,
                                                 "logprobs": True}).json()
        if model == "wukong-tiny":  # the same greedy answer, cut at 4 tokens
            assert plain["text"].startswith(r["choices"][0]["message"]["content"])
        return [t["logprob"] for t in r["choices"][0]["logprobs"]["content"]]

    adapted, base = logprobs("wukong-tiny"), logprobs("base")
    assert len(adapted) == 4 and all(lp <= 0 for lp in adapted) and adapted != base

    manifest = json.loads((home / "runs" / "wukong-tiny" / "manifest.json").read_text())
    assert c.get("/api/engine/template", params={"adapter": "wukong-tiny"}).json()["sha256"] == manifest["chat_template_sha256"]


def test_merge_endpoint_writes_a_plain_hf_folder(studio):
    c, home, _ = studio
    r = c.post("/api/adapters/wukong-tiny/merge", json={"name": "wukong-merged"})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == str(home / "merged" / "wukong-merged")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(r.json()["files"])
    assert c.post("/api/adapters/wukong-tiny/merge", json={"name": "wukong-merged"}).json()["error"]["code"] == "conflict"
    assert c.post("/api/adapters/wukong-tiny/merge", json={"name": "../x"}).status_code == 422


def test_planning_while_the_engine_loads_does_not_break_it(studio):
    """plan_run builds on the meta device by patching torch for the whole process; the server
    serialises it with model loading, or the engine would come up with meta weights."""
    import threading

    c, _, _ = studio
    plans: list[int] = []

    def plan_repeatedly():
        for _ in range(6):
            plans.append(c.post("/api/plan", json={"config": {"data": "wukong_seed.json"}}).status_code)

    worker = threading.Thread(target=plan_repeatedly)
    worker.start()
    activated = c.post("/api/adapters/wukong-tiny/activate")
    worker.join()
    assert activated.status_code == 200, activated.text
    assert plans == [200] * 6
    r = c.post("/api/chat", json={"messages": PROMPT, "stream": False, "sampling": GREEDY})
    assert r.status_code == 200 and r.json()["n_tokens"] > 0
