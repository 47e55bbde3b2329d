"""Hostile input over HTTP, in-process with a scripted engine and a runner that never trains.

Every refusal is a 4xx in the common shape {"error": {"code", "message", "fix", "details"}}, and
the studio home (every file's bytes, and the jobs table) is exactly as it was before the request:
a saved dataset, a finished adapter and a queued job are neither lost nor changed. The security
checks at the end: the token guards every route and page, names never leave the studio home,
pickled weights are refused and never unpickled, and `trust_remote_code` stays off unless set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hostile_cases import DATA_CASES
from server_fakes import FakeEngine, booby_trapped_pickle, fake_run, queue_only, tiny_trained_run

from lorastudio.server import create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
TEN_MB = "x" * 10 * 1024 * 1024
ABSURD_INT = "1" + "0" * 30


def upload(client, name: str, content: bytes):
    """A multipart upload written by hand, so the file name reaches the server byte for byte."""
    head = (f'--zz\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/json\r\n\r\n").encode("utf-8", "surrogatepass")
    return client.post("/api/datasets", content=head + content + b"\r\n--zz--\r\n",
                       headers={"content-type": "multipart/form-data; boundary=zz"})


def raw_json(client, method: str, url: str, body: str | bytes, **kw):
    """A JSON body sent as written: NaN, Infinity and lone-surrogate escapes reach the server as such."""
    return client.request(method, url, content=body if isinstance(body, bytes) else body.encode(),
                          headers={"content-type": "application/json"}, **kw)


def assert_shape(r, status: int | None = None) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:2000])
    if status is not None:
        assert r.status_code == status, r.text[:2000]
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "fix", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert err["fix"] is None or (isinstance(err["fix"], str) and err["fix"])
    assert isinstance(err["details"], dict)
    assert len(r.content) < 20_000, "the error echoes a huge input back"
    return err


def state(home: Path) -> dict:
    """What is saved: every file under the home (sqlite files by their rows), every folder."""
    out = {}
    for p in sorted(home.rglob("*")):
        rel = str(p.relative_to(home))
        if p.name.startswith("jobs.sqlite"):
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    with sqlite3.connect(home / "jobs.sqlite") as db:
        out["jobs table"] = db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
    return out


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_model_dir):
    """A studio home with things already saved: an uploaded dataset, a finished adapter (with
    probes), and a queued job. One app for the module: refused requests must leave it as it is."""
    home = tmp_path_factory.mktemp("hostile-http") / "home"
    app = queue_only(create_app(engine=FakeEngine(), home=home, model=str(tiny_model_dir), device="cpu",
                                start_runner=False))
    with TestClient(app) as client:
        assert upload(client, "saved.json", (EXAMPLES / "wukong_seed.json").read_bytes()).status_code == 201
        fake_run(home / "runs", "wukong", probes=EXAMPLES / "wukong_probes.jsonl")
        r = client.post("/api/jobs", json={"name": "queued-run", "force": True, "config": {"data": "saved.json"}})
        assert r.status_code == 201 and r.json()["status"] == "queued", r.text
        yield client, home


@pytest.fixture
def refused(studio):
    client, home = studio

    def check(method: str, url: str, status: int | None = None, code: str | None = None, **kw) -> dict:
        before = state(home)
        if "raw" in kw:
            r = raw_json(client, method, url, kw.pop("raw"), **kw)
        elif "upload" in kw:
            r = upload(client, *kw.pop("upload"))
        else:
            r = client.request(method, url, **kw)
        err = assert_shape(r, status)
        if code:
            assert err["code"] == code, err
        assert state(home) == before, "a refused request changed what was saved"
        return err

    return check


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_upload_is_refused_and_keeps_nothing(refused, case):
    name, content, expect = DATA_CASES[case]
    name = "saved" + Path(name).suffix  # the name of a saved dataset: it must not be touched either
    err = refused("POST", "/api/datasets", upload=(name, content), status=422)
    if name.endswith(".csv"):
        assert err["code"] == "config_error" and ".json or .jsonl" in err["message"]
        return
    assert err["code"] == "data_error" and err["fix"]
    for needle in expect:
        assert needle in err["message"], (needle, err["message"][:500])


def test_a_bom_upload_is_accepted(studio):
    client, home = studio
    r = upload(client, "bom.jsonl", b'\xef\xbb\xbf{"instruction": "hi", "output": "yo"}\n')
    assert r.status_code == 201, r.text
    assert r.json()["n_samples"] == 1
    client.delete("/api/datasets/bom.jsonl")


@pytest.mark.parametrize("name", [
    "../saved.json", "../../evil.json", "/tmp/evil.json", "nul\x00.json", "..json", "a\\b.json", ".hidden.json",
    "x" * 200 + ".json", "\u202eevil.json", "\x85name.json", "saved.csv", "saved",
], ids=["dotdot", "dotdot2", "absolute", "nul", "dotdot-name", "backslash", "hidden", "too-long", "bidi-override",
        "c1-control", "csv", "no-suffix"])
def test_bad_upload_names(refused, studio, name):
    client, home = studio
    err = refused("POST", "/api/datasets", upload=(name, b'[{"instruction": "a", "output": "b"}]'), status=422,
                  code="config_error")
    assert err["fix"]
    assert not (home.parent / "evil.json").exists() and not (home / "evil.json").exists()


def test_an_empty_file_name_is_refused(refused):
    refused("POST", "/api/datasets", files={"file": ("", b"[]")}, status=422)


def test_uploads_over_the_limit(studio):
    """A second app on the same home with a 10 kB limit: by Content-Length, and chunked."""
    client, home = studio
    small = queue_only(create_app(engine=FakeEngine(), home=home, max_upload_mb=0.01, start_runner=False))
    before = state(home)
    with TestClient(small) as c:
        err = assert_shape(upload(c, "saved.json", b"[" + b" " * 20_000 + b"]"), 413)
        assert err["code"] == "too_large" and err["details"]["limit_bytes"] and err["fix"]
        r = c.post("/api/datasets", content=iter([b"x" * 60_000, b"y" * 60_000]),
                   headers={"content-type": "multipart/form-data; boundary=zz"})
        assert assert_shape(r, 413)["code"] == "too_large"
        r = c.post("/api/plan", json={"config": {"data": "saved.json", "markers": [TEN_MB[:200_000]]}})
        assert assert_shape(r, 413)["code"] == "too_large"
    assert state(home) == before


@pytest.mark.parametrize("method, url, status", [
    ("GET", "/api/datasets/..%2F..%2Fetc%2Fpasswd", 404),
    ("GET", "/api/datasets/%2e%2e", 422),
    ("GET", "/api/datasets/%00saved.json", 422),
    ("GET", "/api/datasets/%2Fetc%2Fpasswd", 404),
    ("DELETE", "/api/datasets/%2e%2e", 422),
    ("DELETE", "/api/datasets/saved.json%00", 422),
    ("DELETE", "/api/datasets/wukong_seed.json", 409),
    ("DELETE", "/api/datasets/never-uploaded.json", 404),
    ("GET", "/api/datasets/saved.json/stats?model=/no/such/model", 422),
    ("GET", "/api/datasets/saved.json/stats?model=" + "x" * 5000, 422),
    ("GET", "/api/datasets/saved.json/stats?max_seq_len=NaN", 422),
    ("GET", "/api/datasets/saved.json/records?limit=0", 422),
    ("GET", "/api/datasets/saved.json/records?offset=-1", 422),
])
def test_dataset_names_and_params(refused, method, url, status):
    refused(method, url, status=status)


# ---------------------------------------------------------------- numbers: every numeric training option

INT_FIELDS = ["epochs", "batch_size", "grad_accum", "warmup_steps", "max_seq_len", "lora_r", "eval_steps", "seed",
              "save_steps", "keep_checkpoints", "threads"]
FLOAT_FIELDS = ["lr", "warmup_ratio", "weight_decay", "max_grad_norm", "lora_alpha", "lora_dropout", "eval_split"]
ZERO_IS_VALID = {"warmup_steps", "eval_steps", "seed", "save_steps", "lr", "warmup_ratio", "weight_decay",
                 "max_grad_norm", "lora_dropout", "eval_split"}
NUMBERS = ["0", "-1", "NaN", "Infinity", "absurd"]
REJECTED = [(f, v) for f in INT_FIELDS + FLOAT_FIELDS for v in NUMBERS if not (v == "0" and f in ZERO_IS_VALID)]


def _number(field: str, value: str) -> str:
    return ("1e308" if field in FLOAT_FIELDS else ABSURD_INT) if value == "absurd" else value


@pytest.mark.parametrize("endpoint", ["plan", "jobs"])
@pytest.mark.parametrize("field, value", REJECTED)
def test_bad_number_for_plan_and_jobs(refused, endpoint, field, value):
    config = '{"data": "saved.json", "%s": %s}' % (field, _number(field, value))
    body = '{"name": "never", "force": true, "config": %s}' % config if endpoint == "jobs" else '{"config": %s}' % config
    err = refused("POST", f"/api/{endpoint}", raw=body, status=422, code="config_error")
    assert err["details"]["option"] == "--" + field.replace("_", "-")
    assert f"--{field.replace('_', '-')}=" in err["message"] and err["fix"]


@pytest.mark.parametrize("field", sorted(ZERO_IS_VALID))
def test_zero_where_zero_means_something(studio, field):
    client, home = studio
    before = state(home)
    r = client.post("/api/plan", json={"config": {"data": "saved.json", field: 0}})
    assert r.status_code == 200, r.text
    assert r.json()["plan"]["total_steps"] > 0
    assert state(home) == before


# ---------------------------------------------------------------- plan and jobs: names, paths, models


@pytest.mark.parametrize("config, status, code, needle", [
    ({"data": "../../etc/passwd"}, 422, "config_error", "path separator"),
    ({"data": "/etc/passwd"}, 422, "config_error", "path separator"),
    ({"data": "saved.json\x00"}, 422, "config_error", "unprintable"),
    ({"data": TEN_MB}, 422, "config_error", "longer than 100"),
    ({"data": "never-uploaded.json"}, 404, "not_found", "never-uploaded.json"),
    ({"data": "saved.json", "eval_data": "../saved.json"}, 422, "config_error", "path separator"),
    ({"data": "saved.json", "probes": "/etc/hosts"}, 422, "config_error", "path separator"),
    ({"data": 5}, 422, "config_error", "dataset name"),
    ({"data": ""}, 422, "config_error", "no training data"),
    ({}, 422, "config_error", "no training data"),
    ({"data": "saved.json", "output": "/tmp/elsewhere"}, 422, "config_error", "'output' cannot be set"),
    ({"data": "saved.json", "model": "/no/such/model"}, 422, "model_error", "is neither a folder"),
    ({"data": "saved.json", "model": "x" * 5000}, 422, "model_error", "is neither a folder"),
    ({"data": "saved.json", "model": "~no-such-user-here/m"}, 422, "model_error", "is neither a folder"),
    ({"data": "saved.json", "model": "/etc"}, 422, "model_error", "no config.json"),
    ({"data": "saved.json", "bogus": 1}, 422, "config_error", "unknown option 'bogus'"),
    ({"data": "saved.json", "dtype": "fp64"}, 422, "config_error", "--dtype"),
    ({"data": "saved.json", "target_modules": [1, 2]}, 422, "config_error", "--target-modules"),
    ({"data": "saved.json", "markers": {"a": 1}}, 422, "config_error", "--markers"),
    ({"data": "saved.json", "epochs": TEN_MB}, 422, "config_error", "characters)"),
], ids=["data-dotdot", "data-absolute", "data-nul", "data-10mb", "data-unknown", "eval-data-dotdot", "probes-absolute",
        "data-not-a-name", "data-empty", "no-config", "output-set", "model-missing", "model-name-too-long",
        "model-unknown-user", "model-not-a-model", "unknown-key", "dtype", "target-modules-type", "markers-type",
        "epochs-10mb"])
@pytest.mark.parametrize("endpoint", ["plan", "jobs"])
def test_bad_plan_and_job_config(refused, endpoint, config, status, code, needle):
    body = {"config": config} if endpoint == "plan" else {"name": "never", "force": True, "config": config}
    err = refused("POST", f"/api/{endpoint}", json=body, status=status, code=code)
    assert needle in err["message"], err["message"][:500]


@pytest.mark.parametrize("body, status", [
    ({"config": [1]}, 422),
    ({"config": "data=saved.json"}, 422),
    ({"name": "never", "force": "maybe", "config": {"data": "saved.json"}}, 422),
    ({"name": 5, "config": {"data": "saved.json"}}, 422),
])
def test_wrong_schema_bodies(refused, body, status):
    refused("POST", "/api/jobs" if "name" in body else "/api/plan", json=body, status=status, code="invalid_request")


def test_unknown_target_modules(refused, studio):
    client, _ = studio
    r = client.post("/api/plan", json={"config": {"data": "saved.json", "target_modules": ["qproj"]}})
    assert r.status_code == 200 and r.json()["errors"] >= 1
    finding = next(f for f in r.json()["findings"] if f["code"] == "TARGET_MODULES_MISSING")
    assert finding["severity"] == "error" and "q_proj" in finding["fix"]
    err = refused("POST", "/api/jobs", json={"name": "never", "config": {"data": "saved.json", "target_modules": ["qproj"]}},
                  status=422, code="plan_refused")
    assert "TARGET_MODULES_MISSING" in [f["code"] for f in err["details"]["findings"]]


@pytest.mark.parametrize("name, status", [
    ("../escape", 422), ("/abs", 422), ("a\x00b", 422), ("..", 422), (".hidden", 422), ("base", 422),
    ("x" * 101, 422), ("bad\u200bname", 422), ("run.tmp", 422), ("wukong", 409), ("queued-run", 409),
])
def test_bad_job_names(refused, studio, name, status):
    client, home = studio
    refused("POST", "/api/jobs", json={"name": name, "force": True, "config": {"data": "saved.json"}}, status=status)
    assert not (home / "escape").exists() and not Path("/abs").exists()


def test_a_job_name_that_is_not_text(refused):
    err = refused("POST", "/api/jobs", raw='{"name": "\\ud800", "config": {"data": "saved.json"}}', status=422)
    assert "unprintable" in err["message"]


# ---------------------------------------------------------------- tune: budget, trials, data, names

TUNE_OK = {"data": "saved.json", "probes": "wukong_probes.jsonl"}


@pytest.mark.parametrize("body, status, code, needle", [
    ({"budget": "15x"}, 422, "config_error", "is not a duration"),
    ({"budget": "0m"}, 422, "config_error", "leaves no time"),
    ({"budget": ""}, 422, "config_error", "is not a duration"),
    ({"budget": "1e3s"}, 422, "config_error", "is not a duration"),
    ({"budget": TEN_MB}, 422, "invalid_request", "at most 32 characters"),
    ({"budget": 900}, 422, "invalid_request", "budget"),
    ({"max_trials": 0}, 422, "invalid_request", "max_trials"),
    ({"max_trials": 101}, 422, "invalid_request", "max_trials"),
    ({"max_trials": "NaN"}, 422, "invalid_request", "max_trials"),
    ({"max_trials": int(ABSURD_INT)}, 422, "invalid_request", "max_trials"),
    ({"config": {**TUNE_OK, "data": "never-uploaded.json"}}, 404, "not_found", "never-uploaded.json"),
    ({"config": {**TUNE_OK, "data": "../../etc/passwd"}}, 422, "config_error", "path separator"),
    ({"config": {**TUNE_OK, "probes": "/etc/hosts"}}, 422, "config_error", "path separator"),
    ({"config": {**TUNE_OK, "probes": "never.jsonl"}}, 404, "not_found", "never.jsonl"),
    ({"config": {"probes": "wukong_probes.jsonl"}}, 422, "config_error", "no training data"),
    ({"config": {**TUNE_OK, "epochs": 3}}, 422, "config_error", "tune does not take 'epochs'"),
    ({"config": {**TUNE_OK, "output": "/tmp/elsewhere"}}, 422, "config_error", "tune does not take 'output'"),
    ({"config": {**TUNE_OK, "model": "/no/such/model"}}, 422, "model_error", "is neither a folder"),
    ({"config": {**TUNE_OK, "markers": {"a": 1}}}, 422, "config_error", "--markers"),
    ({"config": TUNE_OK}, 422, "plan_refused", "first trial's plan"),  # saved.json: 20 samples, too few
    ({"name": "wukong", "force": True}, 409, "conflict", "already exists"),
    ({"name": "queued-run", "force": True}, 409, "conflict", "already exists"),
    ({"name": "../escape", "force": True}, 422, "config_error", "path separator"),
    ({"name": "base", "force": True}, 422, "config_error", "reserved"),
], ids=["budget-unit", "budget-zero", "budget-empty", "budget-exponent", "budget-10mb", "budget-number", "trials-0",
        "trials-101", "trials-nan", "trials-absurd", "data-unknown", "data-dotdot", "probes-absolute", "probes-unknown",
        "no-data", "epochs", "output", "model-missing", "markers-type", "plan-refused", "name-taken",
        "name-of-queued-job", "name-dotdot", "name-reserved"])
def test_bad_tune_requests(refused, body, status, code, needle):
    err = refused("POST", "/api/tune", json={"config": TUNE_OK, **body}, status=status, code=code)
    assert needle in err["message"], err["message"][:500]
    assert err["fix"]


# ---------------------------------------------------------------- chat: /api/chat and /v1/chat/completions

HI = '[{"role": "user", "content": "hi"}]'


@pytest.mark.parametrize("field, value", [
    ("max_new_tokens", "0"), ("max_new_tokens", "-1"), ("max_new_tokens", "NaN"), ("max_new_tokens", "Infinity"),
    ("max_new_tokens", ABSURD_INT),
    ("temperature", "-1"), ("temperature", "NaN"), ("temperature", "Infinity"), ("temperature", "1e308"),
    ("top_p", "0"), ("top_p", "-1"), ("top_p", "NaN"), ("top_p", "Infinity"), ("top_p", "1e308"),
    ("top_k", "-1"), ("top_k", ABSURD_INT), ("repetition_penalty", "0"), ("repetition_penalty", "NaN"),
    ("seed", "-1"), ("seed", ABSURD_INT),
])
@pytest.mark.parametrize("stream", ["false", "true"])
def test_bad_sampling_on_api_chat(refused, field, value, stream):
    err = refused("POST", "/api/chat", raw='{"messages": %s, "stream": %s, "sampling": {"%s": %s}}' % (HI, stream, field, value),
                  status=422, code="invalid_request")
    assert field in err["message"]


@pytest.mark.parametrize("field, value", [
    ("max_tokens", "0"), ("max_tokens", "-1"), ("max_tokens", "NaN"), ("max_tokens", "Infinity"), ("max_tokens", ABSURD_INT),
    ("max_completion_tokens", "0"), ("max_completion_tokens", ABSURD_INT),
    ("temperature", "-1"), ("temperature", "NaN"), ("temperature", "Infinity"), ("temperature", "1e308"),
    ("top_p", "0"), ("top_p", "-1"), ("top_p", "NaN"), ("top_p", "Infinity"), ("top_p", "1e308"),
    ("n", "0"), ("n", "2"), ("frequency_penalty", "NaN"), ("frequency_penalty", "1e308"),
    ("top_logprobs", "-1"), ("top_logprobs", "21"), ("seed", "-1"), ("seed", ABSURD_INT),
])
@pytest.mark.parametrize("stream", ["false", "true"])
def test_bad_sampling_on_v1(refused, field, value, stream):
    err = refused("POST", "/v1/chat/completions",
                  raw='{"model": "base", "messages": %s, "stream": %s, "%s": %s}' % (HI, stream, field, value),
                  status=422, code="invalid_request")
    assert field in err["message"]


def test_zero_temperature_is_greedy_not_an_error(studio):
    client, _ = studio
    r = client.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}], "stream": False,
                                       "sampling": {"temperature": 0}})
    assert r.status_code == 200 and r.json()["text"] == "[base] you said: hi"
    r = client.post("/v1/chat/completions", json={"model": "base", "messages": [{"role": "user", "content": "hi"}],
                                                  "temperature": 0, "seed": 0})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "[base] you said: hi"


@pytest.mark.parametrize("body, status, needle", [
    ({"messages": [{"role": "user", "content": TEN_MB}]}, 422, "at most 200000"),
    ({"messages": [{"role": "user", "content": "hi"}], "system": TEN_MB}, 422, "at most 100000"),
    ('{"messages": [{"role": "user", "content": "a\\ud800"}]}', 422, "messages.0.content"),  # not text
    ('{"messages": [{"role": "user", "content": "hi"}], "system": "\\udfff"}', 422, "system"),
    ({"messages": []}, 422, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}] * 501}, 422, "messages"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 422, "no user message"),
    ({"messages": [{"role": "tool", "content": "hi"}]}, 422, "role"),
    ({"messages": [{"role": "user", "content": 5}]}, 422, "content"),
    ({"messages": [{"role": "user", "content": "hi"}], "adapter": "../../etc"}, 422, "path separator"),
    ({"messages": [{"role": "user", "content": "hi"}], "adapter": "/etc"}, 422, "path separator"),
    ({"messages": [{"role": "user", "content": "hi"}], "adapter": "a\x00"}, 422, "unprintable"),
    ({"messages": [{"role": "user", "content": "hi"}], "adapter": "never-trained"}, 404, "never-trained"),
], ids=["content-10mb", "system-10mb", "content-surrogate", "system-surrogate", "no-messages", "too-many-messages",
        "no-user", "unknown-role", "content-not-text", "adapter-dotdot", "adapter-absolute", "adapter-nul", "adapter-unknown"])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_api_chat(refused, body, status, needle, stream):
    err = refused_chat(refused, "/api/chat", body, status, stream)
    assert needle in err["message"], err["message"][:500]


def refused_chat(refused, url: str, body: dict | str, status: int, stream: bool) -> dict:
    """POST a chat body (a dict, or raw JSON text for what json= cannot send) with stream set."""
    if isinstance(body, str):
        return refused("POST", url, raw=body[:-1] + f', "stream": {json.dumps(stream)}}}', status=status)
    return refused("POST", url, json={**body, "stream": stream}, status=status)


@pytest.mark.parametrize("body, status, needle", [
    ({"model": "base", "messages": [{"role": "user", "content": TEN_MB}]}, 422, "over the limit of 200,000"),
    ({"model": "base", "messages": [{"role": "user", "content": [{"type": "text", "text": TEN_MB}]}]}, 422, "over the limit"),
    ('{"model": "base", "messages": [{"role": "user", "content": "\\ud83d"}]}', 422, "unpaired surrogate"),
    ({"model": "base", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, 422, "not a string"),
    ({"model": "base", "messages": []}, 422, "messages"),
    ({"model": "base", "messages": [{"role": "tool", "content": "x"}]}, 422, "not supported"),
    ({"messages": [{"role": "user", "content": "x"}]}, 422, "model"),
    ({"model": "../../etc", "messages": [{"role": "user", "content": "x"}]}, 422, "path separator"),
    ({"model": "never-trained", "messages": [{"role": "user", "content": "x"}]}, 404, "never-trained"),
], ids=["content-10mb", "parts-10mb", "content-surrogate", "part-not-text", "no-messages", "unknown-role", "no-model",
        "model-dotdot", "model-unknown"])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_v1_chat(refused, body, status, needle, stream):
    err = refused_chat(refused, "/v1/chat/completions", body, status, stream)
    assert needle in err["message"], err["message"][:500]


@pytest.mark.parametrize("body, status", [
    ({"adapter": "wukong", "limit": 0}, 422), ({"adapter": "wukong", "limit": 101}, 422),
    ({"adapter": "wukong", "sampling": {"max_new_tokens": -1}}, 422), ({"adapter": "../x"}, 422),
    ({"adapter": "never-trained"}, 404), ({}, 422),
])
def test_bad_probe_runs(refused, body, status):
    refused("POST", "/api/chat/probes", json=body, status=status)


# ---------------------------------------------------------------- growing a dataset: expand preview and save

EXPAND = "/api/datasets/saved.json/expand"


def test_an_expand_preview_changes_nothing(studio):
    client, home = studio
    before = state(home)
    r = client.post(EXPAND, json={"target": 40, "holdout": 5, "markers": ["俺老孙"]})
    assert r.status_code == 200 and len(r.json()["candidates"]) == 40, r.text[:500]
    assert state(home) == before


@pytest.mark.parametrize("body, status", [
    ('{"target": %s}' % ABSURD_INT, 422), ('{"target": NaN}', 422), ('{"target": Infinity}', 422),
    ('{"holdout": %s}' % ABSURD_INT, 422), ('{"seed": %s}' % ABSURD_INT, 422), ('{"seed": -1}', 422),
    ('{"markers": ["%s"]}' % TEN_MB[:1000], 422), ('{"markers": {"a": 1}}', 422),
    ('{"method": "model", "endpoint": "file:///etc/passwd", "model": "m"}', 422),
    ('{"method": "model", "endpoint": "gopher://127.0.0.1:9", "model": "m"}', 422),
    ('{"method": "model", "endpoint": "%s", "model": "m"}' % TEN_MB[:5000], 422),
    ('{"method": "model", "endpoint": "http://127.0.0.1:9", "model": "%s"}' % TEN_MB[:5000], 422),
    ('{"method": "model", "endpoint": "http://\\ud800", "model": "m"}', 422),
], ids=["target-absurd", "target-nan", "target-inf", "holdout-absurd", "seed-absurd", "seed-negative", "marker-long",
        "markers-type", "endpoint-file", "endpoint-gopher", "endpoint-long", "model-long", "endpoint-surrogate"])
def test_bad_expand_previews(refused, body, status):
    refused("POST", EXPAND, raw=body, status=status)


@pytest.mark.parametrize("body, status, code", [
    ({"name": "../../evil", "samples": [{"prompt": "q", "response": "嘿嘿"}]}, 422, "config_error"),
    ({"name": "/tmp/evil.json", "samples": [{"prompt": "q", "response": "嘿嘿"}]}, 422, "config_error"),
    ({"name": "evil\x00.json", "samples": [{"prompt": "q", "response": "嘿嘿"}]}, 422, "config_error"),
    ({"name": TEN_MB[:5000], "samples": [{"prompt": "q", "response": "嘿嘿"}]}, 422, "invalid_request"),
    ({"name": "big", "samples": [{"prompt": TEN_MB, "response": "嘿嘿"}]}, 422, "invalid_request"),
    ({"name": "many", "samples": [{"prompt": "q", "response": "a"}] * 5001}, 422, "invalid_request"),
    ({"name": "leak", "samples": [{"prompt": "你是谁？", "response": "俺老孙"}], "probes": [{"prompt": "你是谁"}]},
     422, "probe_leak"),
    ({"name": "saved_probes", "samples": [{"prompt": "q", "response": "嘿嘿"}]}, 422, "invalid_request"),
], ids=["dotdot", "absolute", "nul", "name-long", "prompt-10mb", "too-many", "probe-leak", "probes-name"])
def test_bad_expand_saves(refused, studio, body, status, code):
    client, home = studio
    refused("POST", EXPAND + "/save", json=body, status=status, code=code)
    assert not (home.parent / "evil.json").exists() and not Path("/tmp/evil.json").exists()


@pytest.mark.parametrize("url, status", [
    ("/api/datasets/%2e%2e/expand", 422), ("/api/datasets/..%2F..%2Fetc%2Fpasswd/expand", 404),
    ("/api/datasets/saved.json%00/expand", 422), ("/api/datasets/never-uploaded.json/expand", 404),
    ("/api/datasets/%2e%2e/expand/save", 422), ("/api/datasets/never-uploaded.json/expand/save", 404),
])
def test_expand_dataset_names(refused, url, status):
    refused("POST", url, json={"name": "x", "samples": [{"prompt": "q", "response": "嘿嘿"}]}, status=status)


# ---------------------------------------------------------------- adapters, runs, jobs, engine by name


@pytest.mark.parametrize("method, url, kw, status", [
    ("POST", "/api/adapters/../activate", {}, 404),
    ("POST", "/api/adapters/..%2F..%2Fetc/activate", {}, 404),
    ("POST", "/api/adapters/a%00b/activate", {}, 422),
    ("POST", "/api/adapters/never-trained/activate", {}, 404),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": "../escape"}}, 422),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": "/tmp/escape"}}, 422),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": ""}}, 422),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": "base"}}, 422),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": "x\x00"}}, 422),
    ("POST", "/api/adapters/wukong/rename", {"json": {"new_name": "wukong"}}, 409),
    ("POST", "/api/adapters/never-trained/rename", {"json": {"new_name": "x"}}, 404),
    ("DELETE", "/api/adapters/wukong", {}, 422),
    ("DELETE", "/api/adapters/wukong", {"params": {"confirm": "WUKONG"}}, 422),
    ("DELETE", "/api/adapters/%2e%2e", {"params": {"confirm": ".."}}, 422),
    ("DELETE", "/api/adapters/never-trained", {"params": {"confirm": "never-trained"}}, 404),
    ("GET", "/api/adapters/%2e%2e/download", {}, 422),
    ("POST", "/api/adapters/wukong/merge", {"json": {"name": "../../merged"}}, 422),
    ("POST", "/api/adapters/wukong/merge", {"json": {"name": "/tmp/merged"}}, 422),
    ("POST", "/api/adapters/never-trained/merge", {}, 404),
    ("GET", "/api/runs/%2e%2e/doctor", {}, 422),
    ("POST", "/api/runs/never-trained/doctor", {}, 404),
    ("POST", "/api/runs/a%00/doctor", {}, 422),
    ("GET", "/api/jobs/0", {}, 422),
    ("GET", "/api/jobs/-1", {}, 422),
    ("GET", "/api/jobs/" + ABSURD_INT, {}, 422),
    ("GET", "/api/jobs/1e3", {}, 422),
    ("GET", "/api/jobs/987654", {}, 404),
    ("GET", "/api/jobs/1/log", {"params": {"lines": 0}}, 422),
    ("GET", "/api/jobs/1/log", {"params": {"lines": "NaN"}}, 422),
    ("POST", "/api/jobs/987654/cancel", {}, 404),
    ("POST", "/api/jobs/1/resume", {}, 409),
    ("GET", "/api/engine/template", {"params": {"adapter": "../x"}}, 422),
    ("GET", "/api/engine/template", {"params": {"adapter": "never-trained"}}, 404),
])
def test_bad_names_and_ids(refused, method, url, kw, status):
    refused(method, url, status=status, **kw)


# ---------------------------------------------------------------- bodies the framework cannot read


@pytest.mark.parametrize("url", ["/api/plan", "/api/jobs", "/api/chat", "/v1/chat/completions", EXPAND, EXPAND + "/save"])
@pytest.mark.parametrize("body, status", [
    (b'{"config": {"data": "saved.json"', 422),  # truncated JSON
    (b'{"config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),  # nested too deep to parse
    (b'{"config": {"data": "\xff"}}', 400),  # not UTF-8
    (b"", 422),
    (b"null", 422),
], ids=["truncated", "deep", "not-utf8", "empty", "null"])
def test_unreadable_bodies(refused, url, body, status):
    err = refused("POST", url, raw=body, status=status)
    if status == 400:
        assert "error parsing the body" in err["message"] and "UTF-8" in err["fix"]


def test_wrong_content_type(refused):
    refused("POST", "/api/plan", content=b'{"config": {"data": "saved.json"}}', headers={"content-type": "text/plain"},
            status=422)


# ---------------------------------------------------------------- security


def routes(app) -> list[tuple[str, str]]:
    schema = app.openapi()
    return sorted((m.upper(), p) for p, ops in schema["paths"].items() for m in ops)


def test_off_loopback_every_route_and_page_needs_the_token(tmp_path, tiny_model_dir):
    """The app as `serve --host 0.0.0.0` builds it (with a token): every API route of the schema,
    every page, the docs and unknown paths answer 401 in the common shape without the token or
    with a wrong one; with it, none does. Only the liveness check is open."""
    from lorastudio.server.settings import is_loopback

    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "example.com"))
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "localhost"))

    home = tmp_path / "home"
    app = queue_only(create_app(engine=FakeEngine(), home=home, token="s3cret-token", model=str(tiny_model_dir),
                                start_runner=False))
    fake_run(home / "runs", "wukong")
    targets = routes(app) + [("GET", p) for p in ("/", "/static/app.js", "/static/i18n.js", "/docs", "/redoc",
                                                   "/openapi.json", "/api/no-such-route", "/v1/no-such-route")]
    assert len(targets) > 30
    before = state(home)
    with TestClient(app) as c:
        for method, path in targets:
            url = path.replace("{name}", "wukong").replace("{job_id}", "1")
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Studio-Token": "s3cret-token "},
                            {"Cookie": "lorastudio_token=wrong"}):
                r = c.request(method, url, headers=headers, json={})
                if path == "/api/health":
                    assert r.status_code == 200 and "version" in r.json()
                    continue
                err = assert_shape(r, 401)
                assert err["code"] == "unauthorized" and "token" in err["fix"], (method, url)
        assert state(home) == before  # nothing ran: no dataset, job, rename or delete
        for method, path in targets:
            url = path.replace("{name}", "wukong").replace("{job_id}", "1")
            r = c.request(method, url, headers={"Authorization": "Bearer s3cret-token"},
                          params={"confirm": "x", "follow": "false"}, json={"new_name": "x-" + method.lower(), "config": {}})
            assert r.status_code != 401, (method, url)


def test_uploads_and_runs_stay_under_the_home(studio):
    client, home = studio
    r = upload(client, "悟空 数据.json", (EXAMPLES / "wukong_seed.json").read_bytes())
    assert r.status_code == 201, r.text
    assert (home / "datasets" / "悟空 数据.json").is_file()
    r = client.post("/api/jobs", json={"name": "stays-home", "force": True, "config": {"data": "悟空 数据.json"}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert Path(job["run_dir"]) == home / "runs" / "stays-home"
    assert Path(job["config"]["output"]) == home / "runs" / "stays-home"
    assert Path(job["config"]["data"]) == home / "datasets" / "悟空 数据.json"
    assert job["config"]["trust_remote_code"] is False  # off unless the request sets it
    for p in home.rglob("*"):
        assert p.resolve().is_relative_to(home.resolve()), p
    client.post(f"/api/jobs/{job['id']}/cancel")
    client.delete("/api/datasets/悟空 数据.json")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir) -> Path:
    return tiny_trained_run(tmp_path_factory.getbasetemp(), tiny_model_dir)


def test_pickled_adapters_are_never_listed_loaded_or_unpickled(tmp_path, tiny_model_dir, trained_run):
    """A run whose adapter is only adapter_model.bin is not an adapter: the scan skips it, the API
    answers 404, the engine refuses it; next to safetensors, a .bin is never read."""
    from lorastudio.errors import RunError
    from lorastudio.serving.engine import ChatEngine

    marker = tmp_path / "UNPICKLED"
    home = tmp_path / "home"
    pickled = shutil.copytree(trained_run, home / "runs" / "pickled")
    (pickled / "adapter" / "adapter_model.safetensors").unlink()
    (pickled / "adapter" / "adapter_model.bin").write_bytes(booby_trapped_pickle(marker))
    both = shutil.copytree(trained_run, home / "runs" / "both")
    (both / "adapter" / "adapter_model.bin").write_bytes(booby_trapped_pickle(marker))

    app = create_app(engine=FakeEngine(), home=home, start_runner=False)
    with TestClient(app) as c:
        assert [a["name"] for a in c.get("/api/adapters").json()["adapters"]] == ["both"]
        assert_shape(c.post("/api/adapters/pickled/activate"), 404)
        assert_shape(c.post("/v1/chat/completions", json={"model": "pickled", "messages": [{"role": "user", "content": "x"}]}), 404)

    engine = ChatEngine.load(str(tiny_model_dir))
    with pytest.raises(RunError) as e:
        engine.add_adapter("pickled", pickled)
    assert "pickled .bin adapters are not loaded" in e.value.message and "safe_serialization=True" in e.value.fix
    engine.add_adapter("both", both)  # loads the safetensors beside the trap
    assert "both" in engine.adapters
    assert not marker.exists()


def test_pickled_base_weights_are_never_unpickled(tmp_path, tiny_model_dir):
    """Only a pickle: refused with a clear error (plan over HTTP, the engine). Beside safetensors:
    the safetensors are loaded and the pickle is never opened."""
    from lorastudio.errors import ModelError
    from lorastudio.serving.engine import ChatEngine

    marker = tmp_path / "UNPICKLED"
    only = shutil.copytree(tiny_model_dir, tmp_path / "only-pickle", ignore=shutil.ignore_patterns("*.safetensors"))
    (only / "pytorch_model.bin").write_bytes(booby_trapped_pickle(marker))
    both = shutil.copytree(tiny_model_dir, tmp_path / "both")
    (both / "pytorch_model.bin").write_bytes(booby_trapped_pickle(marker))

    app = create_app(engine=FakeEngine(), home=tmp_path / "home", start_runner=False)
    with TestClient(app) as c:
        r = c.post("/api/plan", json={"config": {"data": "wukong_seed.json", "model": str(only)}})
        err = assert_shape(r, 422)
        assert err["code"] == "model_error" and "only pickled weights" in err["message"] and "safe_serialization" in err["fix"]
        r = c.post("/api/plan", json={"config": {"data": "wukong_seed.json", "model": str(both)}})
        assert r.status_code == 200, r.text
    with pytest.raises(ModelError):
        ChatEngine.load(str(only))
    assert ChatEngine.load(str(both)).generate([{"role": "user", "content": "hi"}]).n_tokens > 0
    assert not marker.exists()


def test_remote_code_is_never_run_unless_asked(tmp_path, tiny_model_dir):
    """A model folder whose config points at its own Python code (auto_map): planning over HTTP
    and loading the engine use the built-in architecture; the folder's code never runs."""
    from lorastudio.serving.engine import ChatEngine

    marker = tmp_path / "REMOTE_CODE_RAN"
    folder = shutil.copytree(tiny_model_dir, tmp_path / "custom-code")
    (folder / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
                                    "from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast\n"
                                    "class EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n"
                                    "class EvilModel(PreTrainedModel):\n    config_class = EvilConfig\n"
                                    "class EvilTokenizer(PreTrainedTokenizerFast):\n    pass\n")
    for name, key, value in (("config.json", "auto_map", {"AutoConfig": "evil.EvilConfig",
                                                          "AutoModelForCausalLM": "evil.EvilModel"}),
                             ("tokenizer_config.json", "auto_map", {"AutoTokenizer": [None, "evil.EvilTokenizer"]})):
        data = json.loads((folder / name).read_text())
        data[key] = value
        (folder / name).write_text(json.dumps(data))

    app = create_app(engine=FakeEngine(), home=tmp_path / "home", start_runner=False)
    with TestClient(app) as c:
        r = c.post("/api/plan", json={"config": {"data": "wukong_seed.json", "model": str(folder)}})
        assert r.status_code == 200, r.text
    assert ChatEngine.load(str(folder)).generate([{"role": "user", "content": "hi"}]).n_tokens > 0
    # (with trust_remote_code=True the same plan imports evil.py and the marker appears; not run
    # here, as transformers would copy the code into the user's module cache)
    assert not marker.exists()
