"""The web's expand step over HTTP: preview (nothing written), then save the samples kept.

In-process with the scripted engine; the model method asks a scripted OpenAI-compatible server
served on loopback (the replies of tests/test_expand.py's FakeEndpoint), so the studio's real
HTTP client is what talks to it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_fakes import FakeEngine, free_port, serve_loopback
from test_expand import FakeEndpoint

from lorastudio.data.expand import expand_dataset
from lorastudio.data.filters import leaks
from lorastudio.server import create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
SEED = EXAMPLES / "wukong_seed.json"
MARKERS = ["俺老孙", "嘿嘿", "呔"]
CLI_ARGS = dict(target=150, holdout=20, markers=MARKERS, seed=0)  # the bundled wukong_expanded.json's command
PREVIEW = "/api/datasets/wukong_seed.json/expand"
SAVE = "/api/datasets/wukong_seed.json/expand/save"


@pytest.fixture
def studio(tmp_path):
    home = tmp_path / "home"
    with TestClient(create_app(engine=FakeEngine(), home=home, start_runner=False, device="cpu")) as client:
        yield client, home


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    """The example command's expansion, previewed once for the tests that only read it."""
    home = tmp_path_factory.mktemp("expand-preview") / "home"
    with TestClient(create_app(engine=FakeEngine(), home=home, start_runner=False)) as client:
        r = client.post(PREVIEW, json=CLI_ARGS)
        assert r.status_code == 200, r.text
        return r.json()


def saved_files(home: Path) -> dict[str, str]:
    folder = home / "datasets"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text[:1000]
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fix", "details"}, body
    err = body["error"]
    assert err["message"] and isinstance(err["details"], dict)
    if code:
        assert err["code"] == code, err
    return err


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------- preview


def test_preview_equals_the_cli_and_writes_nothing(studio, preview, tmp_path):
    client, home = studio
    report = expand_dataset(SEED, tmp_path / "cli.json", **CLI_ARGS)
    cli_records = json.loads((tmp_path / "cli.json").read_text(encoding="utf-8"))
    r = preview["report"]
    for key in ("categories_before", "categories_after", "probes_per_category", "filters", "candidates", "n_source",
                "n_out", "holdout", "markers", "notes"):
        assert r[key] == getattr(report, key), key
    assert r["n_probes"] == 20 and r["source"] == "wukong_seed.json"
    assert not {"prompts", "out", "files"} & set(r)  # no server path, no file: nothing was written
    assert [(c["prompt"], c["response"], c["category"]) for c in preview["candidates"]] == \
        [(x["instruction"], x["output"], x["category"]) for x in cli_records]
    assert preview["probes"] == jsonl(tmp_path / "cli_probes.jsonl")
    assert preview["suggested_name"] == "wukong_seed_expanded.json"
    assert client.post(PREVIEW, json=CLI_ARGS).status_code == 200
    assert saved_files(home) == {}


def test_preview_is_deterministic_per_seed(studio, preview):
    client, _ = studio
    again = client.post(PREVIEW, json=CLI_ARGS).json()
    assert again == preview
    other = client.post(PREVIEW, json=CLI_ARGS | {"seed": 1}).json()
    assert [c["id"] for c in other["candidates"]] != [c["id"] for c in preview["candidates"]]
    assert other["probes"] != preview["probes"]


def test_candidates_mark_seeds_and_have_unique_ids(preview):
    seeds = json.loads(SEED.read_text(encoding="utf-8"))
    cands = preview["candidates"]
    assert len({c["id"] for c in cands}) == len(cands) == 150
    originals = [c for c in cands if c["origin"] == "seed"]
    assert [(c["prompt"], c["response"]) for c in sorted(originals, key=lambda c: c["source_index"])] == \
        [(s["instruction"], s["output"]) for s in seeds]
    assert {c["origin"] for c in cands} == {"seed", "template"}
    categories = [c["category"] for c in cands]  # grouped by category, each group starting with its seeds
    assert categories == sorted(categories, key=categories.index)
    for cat in set(categories):
        group = [c["origin"] for c in cands if c["category"] == cat]
        assert group == sorted(group, key=lambda o: o != "seed"), cat


# ---------------------------------------------------------------- save


def test_saving_everything_writes_the_cli_bytes(studio, preview):
    client, home = studio
    r = client.post(SAVE, json={"name": "wukong_expanded", "samples": preview["candidates"], "probes": preview["probes"]})
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["name"], d["probes"], d["n_samples"], d["n_probes"]) == ("wukong_expanded.json", "wukong_expanded_probes.jsonl", 150, 20)
    folder = home / "datasets"
    assert (folder / "wukong_expanded.json").read_bytes() == (EXAMPLES / "wukong_expanded.json").read_bytes()
    assert (folder / "wukong_expanded_probes.jsonl").read_bytes() == (EXAMPLES / "wukong_expanded_probes.jsonl").read_bytes()


def test_save_keeps_only_the_accepted_samples_and_the_probes(studio, preview):
    client, home = studio
    cands = preview["candidates"]
    kept = [c for i, c in enumerate(cands) if i % 5 != 2]  # 30 discarded, seeds among them
    assert any(c["origin"] == "seed" for c in cands if c not in kept)
    r = client.post(SAVE, json={"name": "grown.json", "samples": kept, "probes": preview["probes"]})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["name"] == "grown.json" and d["n_samples"] == 120 and d["renamed_from"] is None
    saved = json.loads((home / "datasets" / "grown.json").read_text(encoding="utf-8"))
    assert saved == [{"instruction": c["prompt"], "input": "", "output": c["response"], "category": c["category"]}
                     for c in kept]
    assert jsonl(home / "datasets" / d["probes"]) == preview["probes"]
    assert leaks([p["prompt"] for p in preview["probes"]], [s["instruction"] for s in saved]) == []
    assert set(saved_files(home)) == {"grown.json", "grown_probes.jsonl"}  # no temporary file left
    # the train page lists uploads; its probes menu takes the .jsonl ones, and a run accepts them
    names = [u["name"] for u in client.get("/api/datasets").json()["uploads"]]
    assert names == ["grown.json", "grown_probes.jsonl"]
    assert client.get("/api/datasets/grown.json").json()["n_samples"] == 120


def test_saved_probes_are_accepted_by_a_run(tmp_path, tiny_model_dir, preview):
    """What the train page sends when the saved probes are chosen: the plan takes both names."""
    app = create_app(engine=FakeEngine(), home=tmp_path / "home", model=str(tiny_model_dir), start_runner=False)
    with TestClient(app) as client:
        d = client.post(SAVE, json={"name": "grown", "samples": preview["candidates"][:40],
                                    "probes": preview["probes"]}).json()
        r = client.post("/api/plan", json={"config": {"data": d["name"], "probes": d["probes"]}})
        assert r.status_code == 200, r.text
        plan = r.json()["plan"]
        assert plan["n_train"] - plan["n_general"] == 40 and plan["has_probes"] and not plan["heldout"]


def test_a_taken_name_is_never_overwritten(studio, preview):
    client, home = studio
    folder = home / "datasets"
    first = client.post(SAVE, json={"name": "grown", "samples": preview["candidates"][:30], "probes": preview["probes"]})
    assert first.json()["name"] == "grown.json"
    before = saved_files(home)
    second = client.post(SAVE, json={"name": "grown", "samples": preview["candidates"][:31], "probes": preview["probes"][:3]})
    assert second.status_code == 201, second.text
    d = second.json()
    assert (d["name"], d["renamed_from"], d["probes"]) == ("grown-2.json", "grown.json", "grown-2_probes.jsonl")
    assert {k: v for k, v in saved_files(home).items() if k in before} == before  # the first save as it was
    assert len(json.loads((folder / "grown-2.json").read_text(encoding="utf-8"))) == 31
    assert len(jsonl(folder / "grown-2_probes.jsonl")) == 3
    # a probes file of that name already there (written by hand): the new one goes beside it
    (folder / "fresh_probes.jsonl").write_text('{"prompt": "mine", "expect_any": []}\n', encoding="utf-8")
    d = client.post(SAVE, json={"name": "fresh.json", "samples": preview["candidates"][:5],
                                "probes": preview["probes"]}).json()
    assert (d["name"], d["probes"]) == ("fresh.json", "fresh_probes-2.jsonl")
    assert (folder / "fresh_probes.jsonl").read_text(encoding="utf-8") == '{"prompt": "mine", "expect_any": []}\n'
    # the same samples again: the identical file is kept, no copy made
    again = client.post(SAVE, json={"name": "grown", "samples": preview["candidates"][:30], "probes": preview["probes"]})
    assert again.json()["name"] == "grown.json" and "grown-3.json" not in saved_files(home)


def test_a_sample_close_to_a_probe_is_refused(studio, preview):
    client, home = studio
    probe = preview["probes"][0]
    leaky = {"prompt": probe["prompt"] + "呀", "response": "嘿嘿，俺老孙在此！", "category": probe["category"]}
    err = assert_error(client.post(SAVE, json={"name": "leaky", "samples": preview["candidates"] + [leaky],
                                               "probes": preview["probes"]}), 422, "probe_leak")
    assert probe["prompt"] in err["message"] and err["details"]["leaks"][0]["sample"] == leaky["prompt"]
    assert saved_files(home) == {}
    # without the probes nothing leaks: the same samples save
    assert client.post(SAVE, json={"name": "leaky", "samples": [leaky]}).status_code == 201


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("body, needle", [
    ({"target": 0}, "target"), ({"target": -5}, "target"), ({"target": 2001}, "target"), ({"target": "many"}, "target"),
    ({"target": 1.5}, "target"), ({"holdout": -1}, "holdout"), ({"holdout": 201}, "holdout"), ({"seed": -1}, "seed"),
    ({"method": "magic"}, "method"), ({"answers": "swap"}, "answers"), ({"markers": "俺老孙"}, "markers"),
    ({"markers": [""]}, "markers"), ({"markers": ["x"] * 21}, "markers"), ({"lang": "fr"}, "lang"),
    ({"method": "model"}, "endpoint"), ({"method": "model", "endpoint": "http://127.0.0.1:9"}, "model name"),
    ({"method": "model", "endpoint": "file:///etc/passwd", "model": "m"}, "http(s)"),
    ({"method": "model", "endpoint": "127.0.0.1:11434", "model": "m"}, "http(s)"),
], ids=lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else None)
def test_bad_preview_options(studio, body, needle):
    client, home = studio
    err = assert_error(client.post(PREVIEW, json=body), 422, "invalid_request")
    assert needle in err["message"] and err["fix"]
    assert saved_files(home) == {}


def test_bad_options_in_chinese(studio):
    client, _ = studio
    err = assert_error(client.post(PREVIEW, json={"method": "model"}, headers={"Accept-Language": "zh-CN"}), 422)
    assert "兼容 OpenAI" in err["message"] and "终端" in err["fix"]


def test_keep_out_keeps_the_grown_set_away_from_a_probes_file(studio, preview):
    # Hold out, as if already a probes file, questions the templates make: they must not come back.
    client, home = studio
    made = [c["prompt"] for c in preview["candidates"] if c["origin"] == "template"][::25][:4]
    (home / "datasets").mkdir(parents=True, exist_ok=True)  # where a save puts NAME_probes.jsonl
    (home / "datasets" / "mine_probes.jsonl").write_text(
        "".join(json.dumps({"prompt": p}, ensure_ascii=False) + "\n" for p in made), encoding="utf-8")
    held = client.post(PREVIEW, json={**CLI_ARGS, "keep_out": "mine_probes.jsonl"}).json()
    assert len(made) == 4 and not {c["prompt"] for c in held["candidates"]} & set(made)
    assert held["report"]["filters"]["probe_leak"] >= preview["report"]["filters"]["probe_leak"] + 4
    assert_error(client.post(PREVIEW, json={**CLI_ARGS, "keep_out": "gone_probes.jsonl"}), 404, "not_found")


def test_unknown_dataset_is_404(studio, preview):
    client, _ = studio
    for url, body in (("/api/datasets/no-such.json/expand", {}),
                      ("/api/datasets/no-such.json/expand/save", {"name": "x", "samples": preview["candidates"][:1]})):
        err = assert_error(client.post(url, json=body), 404, "not_found")
        assert "no-such.json" in err["message"]


@pytest.mark.parametrize("body, status, needle", [
    ({"name": "x", "samples": []}, 422, "samples"),
    ({"name": "../escape", "samples": None}, 422, "samples"),
    ({"name": "../escape"}, 422, "path separator"),
    ({"name": "/tmp/escape.json"}, 422, "path separator"),
    ({"name": ".hidden"}, 422, "starts with '.'"),
    ({"name": "a\x00b"}, 422, "unprintable"),
    ({"name": "my_probes"}, 422, "probes"),
    ({"name": "x", "samples": [{"prompt": "", "response": "a"}]}, 422, "prompt"),
    ({"name": "x", "samples": [{"prompt": "q"}]}, 422, "response"),
    ({"name": "x", "samples": [{"prompt": "   ", "response": "嘿嘿"}]}, 422, "is empty"),
    ({"name": "x", "samples": [{"prompt": "q", "response": "a" * 20_001}]}, 422, "response"),
    ({"name": "x", "probes": [{"prompt": ""}]}, 422, "probes"),
    ({"name": "x", "probes": [{"prompt": "p", "expect_any": "facts"}]}, 422, "expect_any"),
], ids=["no-samples", "samples-null", "dotdot", "absolute", "hidden", "nul", "probes-in-name",
        "empty-prompt", "no-response", "blank-prompt", "huge-response", "empty-probe", "expect-any-type"])
def test_bad_saves_write_nothing(studio, preview, body, status, needle):
    client, home = studio
    body = {"samples": preview["candidates"][:3]} | body
    err = assert_error(client.post(SAVE, json=body), status)
    assert needle in err["message"], err["message"]
    assert saved_files(home) == {}


# ---------------------------------------------------------------- the model method, against a scripted server


def scripted_openai_server() -> FastAPI:
    fake = FastAPI()
    fake.state.requests = []

    @fake.post("/v1/chat/completions")
    def complete(body: dict) -> dict:
        fake.state.requests.append(body)
        return {"choices": [{"message": {"role": "assistant", "content": FakeEndpoint.reply(body["messages"][-1]["content"])}}]}

    return fake


@pytest.fixture
def small_seed(studio) -> str:
    client, home = studio
    seeds = [s for s in json.loads(SEED.read_text(encoding="utf-8")) if s["category"] in ("food", "tangseng", "jingubang")]
    r = client.post("/api/datasets", files={"file": ("small.json", json.dumps(seeds, ensure_ascii=False).encode())})
    assert r.status_code == 201, r.text
    return "small.json"


def test_model_method_asks_the_endpoint(studio, small_seed):
    client, home = studio
    fake = scripted_openai_server()
    with serve_loopback(fake) as url:
        body = {"method": "model", "endpoint": url + "/v1", "model": "fake-7b", "target": 30, "markers": MARKERS,
                "holdout": 2, "seed": 3}
        r = client.post(f"/api/datasets/{small_seed}/expand", json=body)
        assert r.status_code == 200, r.text
        again = client.post(f"/api/datasets/{small_seed}/expand", json=body).json()
    d = r.json()
    assert d == again  # the scripted model repeats itself, so the preview does too
    rep = d["report"]
    assert rep["method"] == "model" and rep["requests"] == len(fake.state.requests) // 2 > 0
    assert all(q["model"] == "fake-7b" and q["seed"] >= 0 for q in fake.state.requests)
    model_made = {(c["prompt"], c["response"]) for c in d["candidates"] if c["origin"] == "model"}
    assert ("你爱吃香蕉吗？", "嘿嘿，香蕉也不赖，可俺老孙最爱桃子！") in model_made
    assert "你吃肉吗？" not in {c["prompt"] for c in d["candidates"]}  # no marker: filtered and counted
    assert rep["filters"]["no_marker"] > 0 and rep["replies_malformed"] > 0 and len(d["probes"]) == 2
    assert "prompts" not in rep
    assert set(saved_files(home)) == {"small.json"}


def test_an_unreachable_endpoint_is_a_502_naming_it(studio):
    client, home = studio
    url = f"http://127.0.0.1:{free_port()}"
    r = client.post(PREVIEW, json={"method": "model", "endpoint": url, "model": "m", "target": 5},
                    headers={"Accept-Language": "zh-CN"})
    err = assert_error(r, 502, "endpoint_failed")
    assert url + "/v1/chat/completions" in err["message"] and "模型服务" in err["message"]
    assert err["details"]["endpoint"] == url and "ollama serve" in err["fix"]
    assert saved_files(home) == {}
