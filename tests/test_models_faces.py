"""The models found on this machine through the three faces: `lorastudio models` (table and
JSON), `models pull`, GET /api/models and the chat page's base switch (POST /api/engine/load).
The places are laid out in a temporary folder (tests/model_layouts.py)."""

from __future__ import annotations

import json
import sys

import pytest
from fastapi.testclient import TestClient
from model_layouts import OLLAMA_OTHER, laid_out, ollama_model, places, tiny_gguf, tiny_gguf_bare  # noqa: F401
from server_fakes import FakeEngine
from typer.testing import CliRunner

from lorastudio.cli import app
from lorastudio.server import create_app

runner = CliRunner()
FOUND = ["ollama:tiny:latest", "hf:Org/Tiny-Instruct", "modelscope:Qwen/Tiny2.5-0.5B-Instruct",
         "lmstudio:pub/Tiny-GGUF/tiny-qwen2-f32.gguf"]


def main_in_process(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """The real entry point in-process: exit code, stdout and stderr."""
    from lorastudio.cli import main

    monkeypatch.setattr(sys, "argv", ["lorastudio", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


# ---- CLI ------------------------------------------------------------------------------------
def test_models_prints_a_row_per_model_and_where_it_looked(laid_out, tiny_gguf_bare):
    ollama_model(laid_out["ollama"], "odd:7b", tiny_gguf_bare, template=OLLAMA_OTHER)
    r = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "Chat models on this machine" in r.output and "smollm2-135m" in r.output
    for spec in FOUND + ["ollama:odd:7b"]:
        assert spec in r.output
    assert "qwen2" in r.output and "F32" in r.output and "ollama:odd:7b: the GGUF has no chat template" in r.output
    assert f"looked in: ollama {laid_out['ollama']}" in r.output.replace("\n", "")


def test_models_json_and_one_source(laid_out):
    r = runner.invoke(app, ["models", "--json", "--source", "ollama"])
    out = json.loads(r.stdout)
    (m,) = out["models"]
    assert m["spec"] == "ollama:tiny:latest" and m["format"] == "gguf" and m["template"] == "gguf" and m["problem"] == ""
    assert set(m) == {"spec", "name", "source", "path", "format", "architecture", "n_params", "quantization", "template",
                      "size_bytes", "digest", "problem", "aliases"}
    assert out["roots"]["ollama"] == [str(laid_out["ollama"])] and out["warnings"] == []


def test_models_mistakes_exit_2_with_the_fix(places, monkeypatch, capsys):
    code, _, err = main_in_process(monkeypatch, capsys, "models", "--source", "docker")
    assert code == 2 and "use one of: embedded, ollama, hf, modelscope, lmstudio" in err
    code, _, err = main_in_process(monkeypatch, capsys, "models", "pull", "ollama:qwen2.5")
    assert code == 2 and "ollama pull NAME" in err
    code, _, err = main_in_process(monkeypatch, capsys, "models", "pull", "modelscope:Qwen/Qwen2.5-0.5B-Instruct")
    assert code == 2 and "modelscope library" in err and "pip install modelscope" in err and "Traceback" not in err


def test_models_pull_finds_what_is_in_the_cache_already(laid_out):
    r = runner.invoke(app, ["models", "pull", "modelscope:qwen/tiny2.5-0.5b-instruct"])
    assert r.exit_code == 0 and "already in the cache" in r.stdout
    assert "--model modelscope:Qwen/Tiny2.5-0.5B-Instruct" in r.stdout


# ---- server ---------------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path, laid_out):
    loaded = []

    def loader(model):  # a scripted engine per base model, so a switch loads no weights
        loaded.append(model)
        return FakeEngine(model)

    app_ = create_app(home=tmp_path / "studio", engine_loader=loader, start_runner=False, device="cpu")
    with TestClient(app_) as c:
        c.loaded = loaded
        yield c


def test_api_models_offers_every_model_found(client, laid_out):
    m = client.get("/api/models").json()
    assert m["default"] == "smollm2-135m" and m["embedded"] == ["smollm2-135m"]
    found = {e["spec"]: e for e in m["found"]}
    assert set(FOUND) <= set(found) and found["hf:Org/Tiny-Instruct"]["template"] == "tokenizer"
    assert m["roots"]["modelscope"] == [str(laid_out["modelscope"])]


def test_the_chat_base_switches_and_an_unknown_name_changes_nothing(client):
    r = client.post("/api/engine/load", json={"model": "ollama:nope"}, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_error"
    assert "found: tiny:latest" in r.json()["error"]["message"] and client.loaded == []
    r = client.post("/api/engine/load", json={"model": "ollama:tiny"})
    assert r.status_code == 200 and r.json()["model"] == "ollama:tiny" and r.json()["loaded"]
    assert client.get("/api/engine").json()["model"] == "ollama:tiny" and client.loaded == ["ollama:tiny"]
    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "你好"}], "adapter": "ollama:tiny"})
    assert r.status_code == 200 and '"adapter": "base"' in r.text  # the base, by its new name
    assert client.post("/api/engine/load", json={}).json()["model"] == "ollama:tiny"  # no model: keep the one loaded
