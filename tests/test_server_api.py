"""The studio's API in-process (TestClient) with a scripted engine: no weights, no port."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeEngine, fake_run

from lorastudio.server import create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def client(home, engine, tiny_model_dir):
    app = create_app(engine=engine, home=home, model=str(tiny_model_dir), device="cpu", start_runner=False)
    with TestClient(app) as c:
        yield c


def upload(client, name: str, content: bytes):
    """A multipart upload written by hand, so the file name reaches the server byte for byte
    (httpx would percent-encode a NUL)."""
    head = (f'--zz\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/json\r\n\r\n").encode()
    return client.post("/api/datasets", content=head + content + b"\r\n--zz--\r\n",
                       headers={"content-type": "multipart/form-data; boundary=zz"})


# ---------------------------------------------------------------- datasets


def test_upload_detects_format_previews_and_counts(client, home):
    r = upload(client, "wukong.json", (EXAMPLES / "wukong_train.json").read_bytes())
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["name"], d["format"], d["n_samples"]) == ("wukong.json", "alpaca", 155)
    assert len(d["preview"]) == 50 and d["preview"][0]["prompt"] == "你好！"
    assert d["stats"]["categories"]["greeting"] == 11
    assert (home / "datasets" / "wukong.json").is_file()
    # token statistics with the model's tokenizer, and truncation at a given max length
    s = client.get("/api/datasets/wukong.json/stats", params={"max_seq_len": 16}).json()
    assert s["tokens"]["total"]["max"] > 16 and s["tokens"]["truncated"]["count"] > 0
    # the same bytes again: no copy; different bytes under the same name: saved beside it
    assert upload(client, "wukong.json", (EXAMPLES / "wukong_train.json").read_bytes()).json()["name"] == "wukong.json"
    again = upload(client, "wukong.json", (EXAMPLES / "wukong_seed.json").read_bytes()).json()
    assert (again["name"], again["renamed_from"]) == ("wukong-2.json", "wukong.json")
    listed = client.get("/api/datasets").json()
    assert [u["name"] for u in listed["uploads"]] == ["wukong-2.json", "wukong.json"]
    assert "wukong_train.json" in [e["name"] for e in listed["examples"]]


def test_upload_with_bad_records_names_each_and_keeps_nothing(client, home):
    records = [{"instruction": "hi", "output": "hello"}, {"instruction": "", "output": "x"},
               {"instruction": "q", "output": 3}]
    r = upload(client, "bad.json", json.dumps(records).encode())
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "data_error" and "2 problem(s)" in err["message"]
    problems = err["details"]["problems"]
    assert [(p["file"], p["index"], p["field"]) for p in problems] == [("bad.json", 1, "instruction"), ("bad.json", 2, "output")]
    assert str(home) not in json.dumps(err)  # problems name the upload, never a server path
    assert not any((home / "datasets").iterdir())


@pytest.mark.parametrize("content, needle", [
    (b"", "is empty"),
    (b"[{\"instruction\": \"a\", \"output\": \"b\"", "invalid JSON"),
    (b"\xff\xfe not utf-8", "not valid UTF-8"),
    (b"[1, 2]", "not an object"),
])
def test_upload_malformed_files(client, content, needle):
    r = upload(client, "x.jsonl", content)
    assert r.status_code == 422 and needle in r.json()["error"]["message"]


@pytest.mark.parametrize("name", ["../evil.json", "/etc/passwd.json", "a\\b.json", "nul\x00.json", ".hidden.json",
                                  "data.csv", "..json"])
def test_upload_refuses_bad_names(client, home, name):
    r = upload(client, name, b'[{"instruction": "a", "output": "b"}]')
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "config_error"
    assert not (home.parent / "evil.json").exists()


def test_upload_over_the_limit_is_refused(home, engine):
    app = create_app(engine=engine, home=home, max_upload_mb=0.001, start_runner=False)
    with TestClient(app) as c:
        r = upload(c, "big.json", b"[" + b" " * 5000 + b"]")
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        # a body over the limit sent without Content-Length (chunked) is refused too
        r = c.post("/api/datasets", content=iter([b"x" * 40_000, b"y" * 40_000]),
                   headers={"content-type": "multipart/form-data; boundary=zz"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert not (home / "datasets").exists() or not any((home / "datasets").iterdir())


def test_examples_are_read_only(client):
    assert client.get("/api/datasets/wukong_seed.json").json()["n_samples"] == 20
    r = client.delete("/api/datasets/wukong_seed.json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "read_only"


# ---------------------------------------------------------------- plan


def test_plan_numbers_follow_the_form(client):
    form = {"data": "wukong_train.json", "epochs": 2, "batch_size": 8, "grad_accum": 2, "mix_general": 0, "eval_split": 0}
    r = client.post("/api/plan", json={"config": form})
    assert r.status_code == 200, r.text
    p = r.json()["plan"]
    # 155 samples / batch 8 = 20 micro-batches; / accumulation 2 = 10 steps per epoch
    assert (p["effective_batch"], p["steps_per_epoch"], p["total_steps"]) == (16, 10, 20)
    assert "TOO_FEW_STEPS" in [f["code"] for f in r.json()["findings"]]
    assert set(r.json()["auto"]) == {"lr", "max_seq_len", "target_modules"}  # what the form left out


def test_fields_left_empty_take_the_recipe_with_reasons_and_fixes_apply(client):
    r = client.post("/api/plan", json={"config": {"data": "wukong_seed.json", "epochs": "", "lr": ""}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["auto"]["epochs"]["value"] == out["config"]["epochs"] == out["plan"]["epochs"]
    assert "steps per epoch" in out["auto"]["epochs"]["reason"] and out["config"]["data"] == "wukong_seed.json"
    assert out["errors"] == 1 and out["findings"][0]["apply"] == {"expand_to": 150}
    fixed = client.post("/api/plan", json={"config": {"data": "wukong_seed.json"}, "apply_fixes": True}).json()
    assert fixed["errors"] == 0 and fixed["applied"] == [{"code": "TOO_FEW_SAMPLES", "apply": {"expand_to": 150}}]
    assert fixed["config"]["expand_to"] == 150 and fixed["plan"]["n_records"] == 150 and fixed["heldout"]


@pytest.mark.parametrize("config, option", [
    ({"data": "wukong_train.json", "epochs": 0}, "--epochs"),
    ({"data": "wukong_train.json", "lr": -1}, "--lr"),
    ({"data": "wukong_train.json", "bogus": 1}, "--bogus"),
    ({"epochs": 1}, "--data"),
])
def test_plan_names_the_bad_option(client, config, option):
    r = client.post("/api/plan", json={"config": config})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "config_error"
    assert r.json()["error"]["details"]["option"] == option


def test_plan_refuses_paths_outside_the_home(client):
    r = client.post("/api/plan", json={"config": {"data": "../../etc/passwd"}})
    assert r.status_code == 422 and "path separator" in r.json()["error"]["message"]
    r = client.post("/api/plan", json={"config": {"data": "wukong_train.json", "output": "/tmp/x"}})
    assert r.status_code == 422


def test_job_refused_on_error_findings_without_force(client):
    r = client.post("/api/jobs", json={"name": "few", "config": {"data": "wukong_seed.json", "epochs": 1}})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "plan_refused" and "TOO_FEW_STEPS" in [f["code"] for f in err["details"]["findings"]]


# ---------------------------------------------------------------- adapters


def test_scan_activate_rename_delete(client, home, engine):
    fake_run(home / "runs", "wukong", loss=0.75, verdict="learned")
    (home / "runs" / "half").mkdir()  # incomplete: no manifest
    (home / "runs" / "half" / "train.log").write_text("x")
    fake_run(home / "runs", "other.tmp")  # being written
    listed = client.get("/api/adapters").json()
    assert [a["name"] for a in listed["adapters"]] == ["wukong"]
    a = listed["adapters"][0]
    assert (a["base_model"], a["final_loss"], a["verdict"], a["active"]) == ("fake-base", 0.75, "learned", False)

    assert client.post("/api/adapters/wukong/activate").json()["active"] == "wukong"
    assert engine.active == "wukong" and "wukong" in engine.adapters

    r = client.post("/api/adapters/wukong/rename", json={"new_name": "悟空-v1"})
    assert r.status_code == 200 and r.json()["name"] == "悟空-v1"
    assert engine.active == "悟空-v1" and "wukong" not in engine.adapters
    assert client.post("/api/adapters/wukong/activate").status_code == 404

    r = client.post("/api/adapters/悟空-v1/rename", json={"new_name": "../escape"})
    assert r.status_code == 422 and not (home / "escape").exists()

    assert client.delete("/api/adapters/悟空-v1").status_code == 422  # confirm is required
    assert client.delete("/api/adapters/悟空-v1", params={"confirm": "wrong"}).json()["error"]["code"] == "confirm_mismatch"
    assert client.delete("/api/adapters/悟空-v1", params={"confirm": "悟空-v1"}).json() == {"deleted": "悟空-v1"}
    assert engine.active == "base" and not (home / "runs" / "悟空-v1").exists()
    assert client.get("/api/adapters").json()["adapters"] == []


def test_download_zip(client, home):
    fake_run(home / "runs", "wukong")
    r = client.get("/api/adapters/wukong/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {"wukong/adapter/adapter_model.safetensors", "wukong/adapter/adapter_config.json",
            "wukong/manifest.json", "wukong/metrics.jsonl", "wukong/doctor.json"} <= set(names)
    assert not list((home / "tmp").iterdir())  # the temporary zip is removed after sending


@pytest.mark.parametrize("name", ["..", "a..b", "base"])
def test_adapter_names_are_checked(client, name):
    r = client.post(f"/api/adapters/{name}/rename", json={"new_name": "x"})
    assert r.status_code in (404, 422) and "error" in r.json()


# ---------------------------------------------------------------- chat and engine


def test_chat_streams_and_answers_with_the_named_adapter(client, home, engine):
    fake_run(home / "runs", "wukong")
    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "你好"}], "adapter": "wukong",
                                       "system": "be brief", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    assert "".join(e.get("text", "") for e in events[:-1]) == "[wukong] you said: 你好"
    assert events[-1]["adapter"] == "wukong"
    assert engine.calls[-1][1][0] == {"role": "system", "content": "be brief"}

    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}], "adapter": "base", "stream": False})
    assert r.json()["text"] == "[base] you said: hi"
    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}], "adapter": "missing"})
    assert r.status_code == 404 and "wukong" in r.json()["error"]["fix"]
    r = client.post("/api/chat", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert r.status_code == 422
    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}], "sampling": {"temperature": -1}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_probes_run_base_and_adapter(client, home):
    fake_run(home / "runs", "wukong", probes=EXAMPLES / "wukong_probes.jsonl")
    fake_run(home / "runs", "noprobes")
    r = client.post("/api/chat/probes", json={"adapter": "wukong", "limit": 3})
    rows = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    probes = [row for row in rows if "prompt" in row]
    assert len(probes) == 3 and probes[0]["base"].startswith("[base]") and probes[0]["adapter"].startswith("[wukong]")
    assert rows[-1]["probes"] == 3
    r = client.post("/api/chat/probes", json={"adapter": "noprobes"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_probes"


def test_engine_template_hash_for_the_doctor(client, home):
    fake_run(home / "runs", "wukong")
    assert client.get("/api/engine/template", params={"adapter": "wukong"}).json()["sha256"] == "sha-wukong"
    assert client.get("/api/engine/template", params={"adapter": "base"}).json()["sha256"] == "sha-base"
    assert client.get("/api/engine/template", params={"adapter": "nope"}).status_code == 404


def test_doctor_report_per_run(client, home):
    fake_run(home / "runs", "wukong", verdict=None)
    r = client.get("/api/runs/wukong/doctor")
    assert r.status_code == 404 and "doctor" in r.json()["error"]["fix"]
    (home / "runs" / "wukong" / "doctor.json").write_text(json.dumps({"verdict": "not_learned", "findings": []}))
    assert client.get("/api/runs/wukong/doctor").json()["report"]["verdict"] == "not_learned"
    assert client.get("/api/adapters").json()["adapters"][0]["verdict"] == "not_learned"


# ---------------------------------------------------------------- OpenAI-compatible, in-process


def test_v1_models_and_completions(client, home):
    fake_run(home / "runs", "wukong")
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == ["fake-base", "wukong"]
    r = client.post("/v1/chat/completions", json={"model": "wukong", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "temperature": 0})
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] == "[wukong] you said: hi"
    r = client.post("/v1/chat/completions", json={"model": "fake-base", "messages": [{"role": "user", "content": "x"}]})
    assert r.json()["choices"][0]["message"]["content"] == "[base] you said: x"
    r = client.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------- languages and tokens


def test_server_messages_follow_the_language(client):
    en = client.get("/api/nope").json()["error"]["message"]
    zh = client.get("/api/nope", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()["error"]["message"]
    assert en.startswith("Not found") and zh.startswith("未找到")
    assert client.get("/api/nope?lang=zh-CN").json()["error"]["message"].startswith("未找到")


def test_token_guards_every_call_and_page(home, engine):
    app = create_app(engine=engine, home=home, token="s3cret", start_runner=False)
    with TestClient(app) as c:
        for path in ("/", "/static/app.js", "/api/datasets", "/v1/models", "/openapi.json"):
            r = c.get(path)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", path
        assert c.get("/api/health").status_code == 200  # liveness only, nothing else
        assert c.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/datasets", headers={"X-Studio-Token": "s3cret"}).status_code == 200
        # a page opened with ?token= sets a cookie, and the pages then work with it
        r = c.get("/?token=s3cret", follow_redirects=False)
        assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
        assert c.get("/").status_code == 200 and c.get("/api/jobs").status_code == 200


def test_serve_prints_its_address_only_when_it_accepts_connections(tmp_path):
    """The address line comes after the app's start-up, with the socket listening: a script that
    opens it the moment it is printed is never refused."""
    import os
    import subprocess
    import sys

    import httpx
    from server_fakes import free_port

    port = free_port()
    code = f"from lorastudio.server import serve; serve(port={port}, home={str(tmp_path / 'home')!r})"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert first.startswith("LoRA Studio") and f":{port}/" in first, first
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()["ok"] is True  # at once, no retry
    finally:
        proc.terminate()
        proc.wait(timeout=20)
