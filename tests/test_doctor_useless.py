"""The doctor on adapters that change the model and are still of no use, each made for real on a
tiny model: one answer to every question (ANSWERS_COLLAPSED), answers that never stop (NO_STOP),
"held-out" probes that were trained on (PROBES_LEAK), and an adapter that a generic
OpenAI-compatible server ignores or renders with another template (ADAPTER_NOT_APPLIED,
TEMPLATE_MISMATCH). The healthy run of test_doctor.py, trained again here, raises none of them.

Collapse needs a base whose answers depend on the prompt (else a collapsed adapter is no
evidence of anything): the random tiny model answers every prompt alike (its answers are driven
by the template's last tokens, the same for every prompt), so `attentive_dir` is that model with
its attention's value and output projections scaled 20x: the prompt then reaches the last
position, and the base's greedy answers differ from prompt to prompt (nonsense, but different).
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from server_fakes import free_port, serve_loopback
from test_doctor import MARKERS, PHRASES, QUICK, codes, train_run

from lorastudio.diagnosis.answers import answer_spread, collapse_finding
from lorastudio.diagnosis.chatpath import NO_TEMPLATE
from lorastudio.diagnosis.doctor import exit_code, run_doctor
from lorastudio.diagnosis.report import format_report
from lorastudio.diagnosis.thresholds import Thresholds
from lorastudio.errors import StudioError
from lorastudio.serving.engine import BASE, ChatEngine, GenerationConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
NEW_CODES = {"ANSWERS_COLLAPSED", "PROBES_LEAK", "NO_STOP", "ADAPTER_NOT_APPLIED", "TEMPLATE_MISMATCH"}
ONE_ANSWER = "嘿嘿，俺老孙来也，有什么事尽管说！"
# ChatML that never closes the assistant's turn: the model is never shown where an answer ends
NO_END_TEMPLATE = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] }}"
                   "{% if m['role'] != 'assistant' %}{{ '<|im_end|>\n' }}{% endif %}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def questions() -> list[str]:
    return [r["instruction"] for r in json.loads((EXAMPLES / "wukong_train.json").read_text(encoding="utf-8"))]


def write(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def printed(report, code: str) -> str:
    """The finding as the doctor prints it (shown with -s, and in a failing test's output)."""
    text = format_report(report)
    lines, block = text.splitlines(), []
    for i, line in enumerate(lines):
        if f"] {code} (" in line:
            block = [line] + [x for x in lines[i + 1: i + 3] if x.startswith("    evidence:") or x.startswith("    fix:")]
    print("\n".join(block))
    return text


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("useless-runs")


@pytest.fixture(scope="module")
def consistent(runs) -> Path:
    return write(runs / "consistent.json", [{"instruction": q, "output": PHRASES[i % 3]} for i, q in enumerate(questions()[:120])])


@pytest.fixture(scope="module")
def healthy(runs, tiny_model_dir, consistent, persona_probes) -> Path:
    # test_doctor.py's healthy run: 108 steps at lr 2e-3 x alpha/r 2, all linear layers
    return train_run(runs, "healthy", tiny_model_dir, consistent, epochs=4, target_modules=["all-linear"],
                     eval_split=0.1, markers=MARKERS, probes=str(persona_probes))


@pytest.fixture(scope="module")
def attentive_dir(runs, tiny_model_dir) -> Path:
    """The tiny model with attention that carries the prompt (see the module doc)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.v_proj.weight.mul_(20.0)
            layer.self_attn.o_proj.weight.mul_(20.0)
    out = runs / "attentive"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def collapsed(runs, attentive_dir) -> Path:
    """150 questions that all share one answer; no --probes, so training holds out reworded ones."""
    data = write(runs / "one-answer.json", [{"instruction": q, "output": ONE_ANSWER} for q in questions()[:150]])
    return train_run(runs, "collapsed", attentive_dir, data, epochs=4, target_modules=["all-linear"])


# ---------------------------------------------------------------- the healthy run: no false alarm


def test_healthy_run_raises_none_of_the_new_codes(healthy):
    r = run_doctor(healthy, write=False)
    assert r.verdict == "learned" and not NEW_CODES & set(codes(r))
    a = r.effect["answers"]
    # The random tiny base answers nothing to every prompt, so its adapter's one phrase (the model
    # cannot condition on the prompt) is no evidence of collapse: the rule asks the base first.
    assert a["base"]["pair_share"] == 1.0 and a["training"]["pair_share"] < Thresholds().collapse_pair_share
    assert all(g["adapter_stopped"] for g in r.effect["generations"])  # 6 tokens, then <|im_end|>
    leaks = r.effect["leaks"]  # the persona probes are rewordings far from the training questions
    assert (leaks["probes"], leaks["leaking"], leaks["training_prompts"]) == (28, 0, 108)


# ---------------------------------------------------------------- ANSWERS_COLLAPSED


def test_one_answer_for_every_question_is_collapsed_and_not_useful(collapsed):
    r = run_doctor(collapsed, write=False, n_probes=16, max_new_tokens=24)
    text = printed(r, "ANSWERS_COLLAPSED")
    f = next(f for f in r.findings if f.code == "ANSWERS_COLLAPSED")
    assert f.severity == "error" and r.verdict == "not_learned" and exit_code(r) == 1
    assert text.startswith("verdict: not useful: the adapter changed the model")
    e = f.evidence
    assert e["repeated_answer"] == ONE_ANSWER and e["same_answer_count"] >= 14 and e["answers"] == 16
    assert e["pair_share"] >= 0.5 and e["base_pair_share"] < 0.1  # the base's answers differ from prompt to prompt
    assert e["kl_mean"] >= Thresholds().no_effect_kl and e["training_pair_share"] == 1.0
    assert "the training answers are one sentence too" in f.fix and f.apply is None  # the data is the user's to vary
    # the reworded probes training held out are far from every training prompt by the same rule
    assert "PROBES_LEAK" not in codes(r) and r.effect["probes"]["source"] == "held-out prompts made from the data"


def test_too_high_a_learning_rate_collapses_varied_answers(runs, attentive_dir):
    data = write(runs / "three.json", [{"instruction": q, "output": PHRASES[i % 3]} for i, q in enumerate(questions()[:150])])
    run = train_run(runs, "hot", attentive_dir, data, force=True, epochs=2, lr=2e-2, target_modules=["all-linear"])
    r = run_doctor(run, write=False, n_probes=16, max_new_tokens=24)
    printed(r, "ANSWERS_COLLAPSED")
    f = next(f for f in r.findings if f.code == "ANSWERS_COLLAPSED")
    assert f.severity == "error" and f.evidence["training_pair_share"] < 0.5  # three phrases in turn: the data varies
    assert f.apply == {"lr": 1e-4} and "use --lr 0.0001 (now 0.02" in f.fix


def test_collapse_rule_on_answer_sets(persona_probes):
    t = Thresholds()
    varied = [json.loads(line)["prompt"] for line in persona_probes.read_text(encoding="utf-8").splitlines()][:16]
    three = [PHRASES[i % 3] for i in range(16)]
    spread3 = answer_spread(three, t.collapse_ratio)
    assert 0.25 < spread3["pair_share"] < 0.35 and spread3["top_share"] < 0.5  # stock phrases in turn: no finding
    base = answer_spread(varied, t.collapse_ratio)
    assert collapse_finding({"adapter": spread3, "base": base}, 0.1, {}, {}, t) is None
    half = answer_spread([ONE_ANSWER] * 8 + varied[:8], t.collapse_ratio)
    assert collapse_finding({"adapter": half, "base": base}, 0.1, {}, {}, t).severity == "warning"  # partly
    most = answer_spread([ONE_ANSWER] * 13 + varied[:3], t.collapse_ratio)
    assert collapse_finding({"adapter": most, "base": base}, 0.1, {}, {}, t).severity == "error"
    assert collapse_finding({"adapter": most, "base": most}, 0.1, {}, {}, t) is None  # a base that says one thing too
    assert answer_spread(["", ""], t.collapse_ratio)["pair_share"] == 1.0


# ---------------------------------------------------------------- NO_STOP


def test_answers_that_never_stop(runs, tiny_model_dir, consistent):
    template = runs / "no-end.jinja"
    template.write_text(NO_END_TEMPLATE, encoding="utf-8")
    run = train_run(runs, "no-end", tiny_model_dir, consistent, epochs=3, target_modules=["all-linear"],
                    chat_template=str(template))
    r = run_doctor(run, write=False, n_probes=8, max_new_tokens=24)
    printed(r, "NO_STOP")
    assert codes(r)["NO_END_OF_TURN"] == "warning"  # the plan said so before step 1
    f = next(f for f in r.findings if f.code == "NO_STOP")
    e = f.evidence
    assert f.severity == "warning" and e["ran_to_limit"] == e["probes"] == 8 and e["training_fit_share"] == 1.0
    assert e["answers_without_end_of_turn"] == 120 and e["end_token"] is None
    assert "closes the assistant turn" in f.fix
    assert any(PHRASES[0] in g["adapter"] or PHRASES[2] in g["adapter"] for g in r.effect["generations"])  # it learned the phrases


# ---------------------------------------------------------------- PROBES_LEAK


def test_training_prompts_as_probes_leak_and_the_numbers_use_the_clean_ones(healthy, consistent):
    r = run_doctor(healthy, probes=str(consistent), write=False, max_new_tokens=8)
    printed(r, "PROBES_LEAK")
    f = next(f for f in r.findings if f.code == "PROBES_LEAK")
    e = f.evidence
    # 120 records, 108 trained, 12 held out by the eval split: only those 12 are clean
    assert f.severity == "error" and (e["leaking"], e["probes"], e["exact"]) == (108, 120, 108)
    assert e["measured_on"] == "the 12 clean probes only" and len(e["examples"]) == 5
    trained = set(_trained(healthy, consistent))
    rows = r.effect["generations"]
    assert len(rows) == 12 == r.effect["kl"]["probes"] and not trained & {g["prompt"] for g in rows}
    assert "the 12 probes that are not training prompts" in r.effect["probes"]["source"]


def _trained(run: Path, data: Path) -> list[str]:
    from lorastudio.diagnosis import measure

    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    ref_tok = measure.reference_tokenizer(measure.resolve_model(manifest["config"]["model"]), manifest)
    dataset, _, prepared = measure.training_data(manifest["config"], manifest, ref_tok, [])
    used = {t.index for t in prepared.train}
    return [s.prompt for s in dataset.samples if s.index in used]


def test_a_few_leaking_probes_warn_with_the_closest_training_prompt(healthy, consistent, persona_probes, tmp_path):
    trained = _trained(healthy, consistent)
    held = [json.loads(line) for line in persona_probes.read_text(encoding="utf-8").splitlines()]
    leaking = [{"prompt": q} for q in trained[:3]] + [{"prompt": "请问" + q} for q in trained[3:6]]  # exact, near
    probes = tmp_path / "probes.jsonl"
    probes.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in held + leaking), encoding="utf-8")
    r = run_doctor(healthy, probes=str(probes), write=False, max_new_tokens=8)
    f = next(f for f in r.findings if f.code == "PROBES_LEAK")
    assert f.severity == "warning" and (f.evidence["leaking"], f.evidence["exact"]) == (6, 3)
    rows = r.effect["leaks"]["rows"]
    assert [row["closest"] for row in rows] == trained[:6] and [row["exact"] for row in rows] == [True] * 3 + [False] * 3
    assert len(r.effect["generations"]) == 28  # the persona probes only


def test_every_probe_leaking_falls_back_to_the_runs_own_held_out_prompts(collapsed, runs):
    r = run_doctor(collapsed, probes=str(runs / "one-answer.json"), write=False, **QUICK)
    f = next(f for f in r.findings if f.code == "PROBES_LEAK")
    assert f.severity == "error" and f.evidence["leaking"] == f.evidence["probes"]
    assert r.effect["probes"]["source"].startswith("held-out prompts made from the data (every probe in")
    assert all(g["kind"] == "reworded" for g in r.effect["generations"])


# ---------------------------------------------------------------- a generic OpenAI-compatible server


def generic_app(engine: ChatEngine, served: dict[str, str], logprobs: bool = True):
    """A scripted OpenAI-compatible server with no LoRA Studio endpoint: GET /v1/models and POST
    /v1/chat/completions only. `served` maps each model name to what the engine answers with
    (an adapter's name, or BASE); logprobs are returned when asked and `logprobs` is on."""
    from lorastudio.server.routers.openai import _generate_with_logprobs

    app = FastAPI()

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "someone"} for name in served]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        req = await request.json()
        if req["model"] not in served:
            return JSONResponse({"error": {"message": f"model {req['model']!r} not found"}}, status_code=404)
        cfg = GenerationConfig(max_new_tokens=req.get("max_tokens") or 16)
        if req.get("logprobs") and logprobs:
            text, n, content = _generate_with_logprobs(engine, req["messages"], served[req["model"]], cfg)
        else:
            g = engine.generate(req["messages"], adapter=served[req["model"]], config=cfg)
            text, n, content = g.text, g.n_tokens, None
        return {"object": "chat.completion", "model": req["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "length" if n >= cfg.max_new_tokens else "stop",
                             "logprobs": {"content": content} if content else None}]}

    return app


@contextmanager
def generic_server(engine: ChatEngine, served: dict[str, str], logprobs: bool = True):
    with serve_loopback(generic_app(engine, served, logprobs)) as url:
        yield url


@pytest.fixture(scope="module")
def engine(tiny_model_dir, healthy) -> ChatEngine:
    e = ChatEngine.load(str(tiny_model_dir))
    e.add_adapter("healthy", healthy)
    return e


def test_generic_server_that_ignores_the_adapter(healthy, engine):
    with generic_server(engine, {"healthy": BASE, "tiny-base": BASE}, logprobs=False) as url:
        r = run_doctor(healthy, server=url, write=False, **QUICK)  # no --server-base: compared with ours alone
    printed(r, "ADAPTER_NOT_APPLIED")
    f = next(f for f in r.findings if f.code == "ADAPTER_NOT_APPLIED")
    assert f.severity == "error" and r.verdict == "not_learned"
    assert f.evidence["served_as_base"] == 4 and f.evidence["served_as_adapter"] == 0 and "vLLM" in f.fix
    s = r.effect["serving"]
    assert s["base"] is None and s["template_sha256"] is None and s["same_answers"] is None


def test_generic_server_that_applies_the_adapter(healthy, engine):
    with generic_server(engine, {"healthy": "healthy", "tiny-base": BASE}) as url:
        r = run_doctor(healthy, server=url + "/v1", server_base="tiny-base", write=False, **QUICK)
    print(next(line for line in format_report(r).splitlines() if line.startswith("serving")))
    assert not NEW_CODES & set(codes(r)) and r.verdict == "learned"
    s = r.effect["serving"]
    # the first two probes settle it (each served answer the doctor's adapter answer): the other two are not asked
    assert s["compared"]["as_adapter"] == 2 and s["same_answers"] == 0 and s["logprobs_compared"] == 2
    assert s["probes"] == 2 and s["of_probes"] == 4


def test_generic_server_with_another_template(healthy, attentive_dir, collapsed, tmp_path):
    # An Ollama model created without a TEMPLATE line: the server renders the user's text alone.
    # The attentive base answers by what it reads, so its served answers are those the doctor's
    # own model gives under that rendering, and none the training template gives.
    exported = shutil.copytree(collapsed / "adapter", tmp_path / "exported")  # no run folder: no template of its own
    e = ChatEngine.load(str(attentive_dir))
    e.tokenizer.chat_template = NO_TEMPLATE
    e.add_adapter("exported", exported)
    with generic_server(e, {"collapsed": "exported", "attentive": BASE}, logprobs=False) as url:
        r = run_doctor(collapsed, server=url, server_base="attentive", write=False, **QUICK)
    printed(r, "TEMPLATE_MISMATCH")
    f = next(f for f in r.findings if f.code == "TEMPLATE_MISMATCH")
    assert f.severity == "error" and f.evidence["matched_template"].startswith("no template")
    assert f.evidence["matches"] == 4 and "ADAPTER_NOT_APPLIED" not in codes(r) and r.verdict != "learned"


def test_server_errors_are_one_clear_message(healthy, engine):
    with pytest.raises(StudioError, match="could not reach the server") as err:
        run_doctor(healthy, server=f"http://127.0.0.1:{free_port()}", write=False)
    assert "--server" in err.value.fix
    with serve_loopback(FastAPI()) as url:  # answers, but not the OpenAI API
        with pytest.raises(StudioError, match="not OpenAI-compatible: GET /v1/models answered HTTP 404"):
            run_doctor(healthy, server=url, write=False)
    with generic_server(engine, {"something-else": BASE}) as url:
        with pytest.raises(StudioError, match="serves no model named 'healthy'.*lists: something-else") as err:
            run_doctor(healthy, server=url, write=False)
        assert "--server-model" in err.value.fix and "--server-base" in err.value.fix
        with pytest.raises(StudioError, match="HTTP 404"):
            run_doctor(healthy, server=url, server_model="missing", write=False, **QUICK)


def test_cli_server_options(healthy, engine):
    from typer.testing import CliRunner

    from lorastudio.cli import app

    with generic_server(engine, {"my-lora": "healthy", "tiny-base": BASE}) as url:
        result = CliRunner().invoke(app, ["doctor", str(healthy), "--server", url, "--server-model", "my-lora",
                                          "--server-base", "tiny-base", "--n-probes", "4", "--json"])
    assert result.exit_code == 0, result.output
    serving = json.loads(result.output)["effect"]["serving"]
    assert serving["adapter"] == "my-lora" and serving["base"] == "tiny-base"
    result = CliRunner().invoke(app, ["doctor", str(healthy), "--server-model", "x"])
    assert isinstance(result.exception, StudioError) and "--server URL" in result.exception.fix


def test_generic_server_that_does_not_stop_where_training_ends_answers(healthy, tiny_model_dir):
    # A server that stops only on the tokenizer's pad/end-of-text token, not on <|im_end|>, the
    # end-of-turn token the run trained: the adapter's answers run on to the token limit there.
    e = ChatEngine.load(str(tiny_model_dir))
    e.add_adapter("healthy", healthy)
    e.eos_ids = [e.tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    with generic_server(e, {"healthy": "healthy"}, logprobs=False) as url:
        r = run_doctor(healthy, server=url, write=False, n_probes=4, max_new_tokens=16)
    printed(r, "NO_STOP")
    f = next(f for f in r.findings if f.code == "NO_STOP")
    assert f.severity == "warning" and f.evidence["ran_to_limit"] == f.evidence["probes"] == 4
    assert f.evidence["target"].startswith("server") and "stop" in f.fix
    assert "ADAPTER_NOT_APPLIED" not in codes(r) and "TEMPLATE_MISMATCH" not in codes(r)


def test_llama_cpp_server_with_the_exported_base_and_lora(healthy, tmp_path):
    """llama.cpp's own OpenAI-compatible server (llama-cpp-python[server]) on the exported base
    GGUF, once without the LoRA (the classic: the adapter is never loaded) and once with it."""
    pytest.importorskip("lorastudio.exporting", reason="needs the GGUF export")
    server = pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from lorastudio.exporting import export

    export(healthy, "ollama", tmp_path / "exported", adapter_only=True, verify=False)
    base, lora = tmp_path / "exported" / "base.gguf", tmp_path / "exported" / "adapter.gguf"
    found = {}
    for label, lora_path in (("without", None), ("with", str(lora))):
        settings = ModelSettings(model=str(base), model_alias="healthy", lora_path=lora_path, n_ctx=512, n_threads=1,
                                 logits_all=True, verbose=False)
        with serve_loopback(server.create_app(server_settings=ServerSettings(), model_settings=[settings])) as url:
            r = run_doctor(healthy, server=url, write=False, **QUICK)
        printed(r, "ADAPTER_NOT_APPLIED")
        found[label] = codes(r)
        assert r.effect["serving"]["compared"]["as_adapter" if lora_path else "as_base"] == 4
    assert found["without"]["ADAPTER_NOT_APPLIED"] == "error"
    assert not NEW_CODES & set(found["with"])
