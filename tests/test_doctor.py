"""The doctor, by failure injection: each finding code is made to happen for real on a tiny model
(no mocks of internals), and a healthy run is shown to be `learned`.

Two tiny bases are used:
- `tiny_model_dir` (the shared fixture, random init) for everything that needs a model that
  knows nothing yet. Its tied embeddings have std 0.02, so every logit is capped near
  |E_i|·sqrt(d) ≈ 1.3: a LoRA on it can lower the loss (6.9 → 5.7 on consistent data) but can
  neither memorise nor blow up.
- `pretrained_dir`: the same model fully fine-tuned for 40 steps on consistent answers (loss
  ~0.7), so its embeddings, like a real model's, allow confident logits. Divergence (a loss far
  above where it started) and overfitting (memorising a few samples) need that.
Runs are trained once per module and shared; each doctor call takes about a second.
"""

from __future__ import annotations

import json
import shutil
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from server_fakes import free_port, serve_loopback

from lorastudio.config import make_config
from lorastudio.diagnosis.chatpath import logprob_gap
from lorastudio.diagnosis.doctor import exit_code, run_doctor
from lorastudio.diagnosis.effect import adapter_weight_stats, read_probes
from lorastudio.diagnosis.report import format_report, render_markdown
from lorastudio.diagnosis.thresholds import Thresholds
from lorastudio.errors import PlanRefused, RunError, StudioError
from lorastudio.serving.engine import BASE, ChatEngine, GenerationConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
MARKERS = ["俺老孙", "嘿嘿", "呔"]
PHRASES = ["嘿嘿，俺老孙来也！", "呔！俺老孙在此！", "嘿嘿，俺老孙知道！"]
QUICK = {"n_probes": 4, "max_new_tokens": 8}  # for runs whose answers the test does not read


def codes(report) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("doctor-runs")


@pytest.fixture(scope="module")
def consistent(runs) -> Path:
    """120 persona questions, each answered with one of three short in-character phrases: a
    small, consistent dataset a tiny model can learn in a hundred steps."""
    questions = [r["instruction"] for r in json.loads((EXAMPLES / "wukong_train.json").read_text(encoding="utf-8"))]
    records = [{"instruction": q, "output": PHRASES[i % 3]} for i, q in enumerate(questions[:120])]
    path = runs / "consistent.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pretrained_dir(runs, tiny_model_dir, consistent) -> Path:
    """The tiny model after 40 full fine-tuning steps on the consistent data (see the module doc)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorastudio.data.prepare import prepare
    from lorastudio.data.readers import load_dataset
    from lorastudio.training.batching import collate

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    samples = prepare(load_dataset(consistent), tok, make_config(data="-", output="-", max_seq_len=128)).train
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        batch = collate([samples[i] for i in torch.randint(len(samples), (8,), generator=g).tolist()], tok.pad_token_id)
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    out = runs / "pretrained"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def train_run(runs: Path, name: str, model: Path, data: Path, force: bool = False, **options) -> Path:
    from lorastudio.training.loop import train

    settings = dict(epochs=1, batch_size=4, grad_accum=1, lr=2e-3, max_seq_len=128, lora_r=8, lora_alpha=16,
                    save_steps=10_000, doctor=False, auto=False)
    settings.update(options)
    train(make_config(model=str(model), data=str(data), output=str(runs / name), **settings), force=force)
    return runs / name


# ---------------------------------------------------------------- healthy: learned


@pytest.fixture(scope="module")
def healthy(runs, tiny_model_dir, consistent, persona_probes) -> Path:
    # 108 samples at batch 4 for 4 epochs = 108 steps; lr 2e-3 x alpha/r 2 = 4e-3 (inside the range)
    return train_run(runs, "healthy", tiny_model_dir, consistent, epochs=4, target_modules=["all-linear"],
                     eval_split=0.1, markers=MARKERS, probes=str(persona_probes))


@pytest.fixture(scope="module")
def healthy_report(healthy):
    return run_doctor(healthy)


def test_healthy_run_is_learned_with_the_numbers_that_say_so(healthy, healthy_report):
    r = healthy_report
    assert r.verdict == "learned" and exit_code(r) == 0
    assert [f.code for f in r.findings if f.severity == "error"] == []
    basis = {b["name"]: b for b in r.basis}
    assert basis["train_loss_drop"]["ok"] and basis["kl_mean"]["ok"] and basis["marker_gain"]["ok"]
    e = r.effect
    assert e["loss"]["train"]["adapter"] < 0.9 * e["loss"]["train"]["base"]
    assert e["loss"]["heldout"]["source"] == "eval split" and e["loss"]["heldout"]["adapter"] < e["loss"]["heldout"]["base"]
    assert e["markers"]["adapter_rate"] - e["markers"]["base_rate"] >= 0.5
    assert e["weights"]["zero_b_modules"] == 0 and e["weights"]["modules"] == 14  # 7 linear layers x 2 blocks
    assert e["probes"] == {"source": str(EXAMPLES / "wukong_probes.jsonl"), "count": 28}  # the whole file
    assert len(e["generations"]) == 28 and all(g["adapter"] != g["base"] for g in e["generations"])
    s = e["serving"]
    assert s["same_answers"] == 0 and s["template_sha256"] == s["training_template_sha256"]


def test_batched_greedy_answers_equal_one_prompt_at_a_time(runs, pretrained_dir, persona_train, persona_probes, monkeypatch):
    # The doctor decodes its probes 16 at a time with left padding; the answers must be the
    # ones a single-prompt decode (what chat does) gives, for base and adapter alike. A run on
    # the varied persona answers, so that the answers differ from prompt to prompt.
    from lorastudio.diagnosis import effect, measure

    run = train_run(runs, "varied", pretrained_dir, persona_train, epochs=2, lr=5e-3, init_identity=False)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    ref = measure.load_reference(measure.resolve_model(manifest["config"]["model"]), manifest, run / "adapter")
    convs = [p.messages for p in read_probes(persona_probes)[:20]]
    assert len({len(effect.encode_prompt(ref.tokenizer, m)) for m in convs}) > 3  # real padding happens
    for adapter_on in (False, True):
        batched = effect.greedy(ref, convs, adapter_on, 24)
        monkeypatch.setattr(effect, "GENERATE_BATCH", 1)
        single = effect.greedy(ref, convs, adapter_on, 24)
        monkeypatch.undo()
        assert batched == single
        assert len(set(batched)) > 1, batched  # a real comparison: the answers depend on the prompt


def test_reports_are_written_as_strict_json_and_markdown(healthy, healthy_report):
    def no_nan(name):
        raise AssertionError(f"{name} in doctor.json")

    data = json.loads((healthy / "doctor.json").read_text(encoding="utf-8"), parse_constant=no_nan)
    assert data["verdict"] == "learned" and set(data) >= {"verdict", "findings", "effect", "basis", "thresholds"}
    for f in data["findings"]:
        assert set(f) >= {"code", "severity", "title", "evidence", "fix", "stage"}
        assert f["severity"] in ("error", "warning", "info") and f["stage"] in ("preflight", "live", "after")
    md = (healthy / "doctor.md").read_text(encoding="utf-8")
    assert md == render_markdown(data)
    assert "**learned**" in md and "| prompt | base | adapter |" in md and "嘿嘿" in md
    assert "train_loss_drop" in format_report(healthy_report)


def test_weight_statistics_match_the_explicit_product(healthy):
    from safetensors.torch import load_file

    stats = adapter_weight_stats(healthy / "adapter")
    weights = load_file(str(healthy / "adapter" / "adapter_model.safetensors"))
    row = stats["per_module"][0]
    prefix = "base_model.model." + row["module"]
    delta = weights[prefix + ".lora_B.weight"].double() @ weights[prefix + ".lora_A.weight"].double() * (16 / 8)
    assert row["delta_norm"] == pytest.approx(float(delta.norm()), rel=1e-9)


def test_thresholds_decide_the_verdict(healthy):
    strict = Thresholds.with_overrides({"min_train_loss_drop": 0.9})
    r = run_doctor(healthy, thresholds=strict, write=False, **QUICK)
    assert r.verdict == "inconclusive" and exit_code(r) == 3
    assert {b["name"]: b["ok"] for b in r.basis if "ok" in b}["train_loss_drop"] is False


def test_cli_doctor_prints_json_and_exits_by_verdict(healthy):
    from typer.testing import CliRunner

    from lorastudio.cli import app

    result = CliRunner().invoke(app, ["doctor", str(healthy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "learned"


# ---------------------------------------------------------------- the serving check


class EngineIgnoringAdapters(ChatEngine):
    """A chat path with the classic bug: every request runs with the adapters switched off."""

    @contextmanager
    def using(self, adapter):
        with super().using(BASE):
            yield self.active if adapter is None else adapter


def test_chat_engine_that_ignores_the_adapter(healthy, tiny_model_dir):
    engine = EngineIgnoringAdapters.load(str(tiny_model_dir))
    engine.add_adapter("healthy", healthy)
    r = run_doctor(healthy, engine=engine, write=False, **QUICK)
    assert codes(r)["ADAPTER_NOT_APPLIED"] == "error"
    assert r.verdict == "not_learned" and exit_code(r) == 1
    s = r.effect["serving"]
    assert s["same_answers"] == s["probes"] == 4 and s["max_logprob_gap"] <= Thresholds().same_logprob_tol
    assert r.effect["kl"]["mean"] > Thresholds().no_effect_kl  # the adapter itself works


def test_stock_engine_given_by_the_caller_passes(healthy, tiny_model_dir):
    engine = ChatEngine.load(str(tiny_model_dir))
    r = run_doctor(healthy, engine=engine, write=False, **QUICK)
    assert "ADAPTER_NOT_APPLIED" not in codes(r) and "TEMPLATE_MISMATCH" not in codes(r)
    assert engine.adapters == {}  # the adapter the doctor loaded for the check is removed again


OTHER_TEMPLATE = ("{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}"
                  "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}")


def test_template_that_differs_from_training(healthy, tiny_model_dir, tmp_path):
    # An adapter exported without its run folder, served by an engine whose tokenizer has another
    # template: the engine can only render with its own (LLaMA-Factory #5834).
    exported = tmp_path / "exported"
    shutil.copytree(healthy / "adapter", exported)
    engine = ChatEngine.load(str(tiny_model_dir))
    engine.tokenizer.chat_template = OTHER_TEMPLATE
    engine.add_adapter("exported", exported)
    r = run_doctor(healthy, engine=engine, adapter="exported", write=False, **QUICK)
    f = next(f for f in r.findings if f.code == "TEMPLATE_MISMATCH")
    assert f.severity == "error" and f.evidence["serving_sha256"] != f.evidence["training_sha256"]
    assert r.verdict != "learned"


@contextmanager
def live_studio(home: Path, engine, token: str):
    """The real studio app, served by uvicorn on a loopback port."""
    from lorastudio.server import create_app

    app = create_app(engine=engine, home=home, token=token, start_runner=False)
    with serve_loopback(app) as url:
        yield f"{url}/?token={token}"


@pytest.mark.parametrize("engine_class", [ChatEngine, EngineIgnoringAdapters])
def test_studio_server_check(healthy, tiny_model_dir, tmp_path, engine_class):
    home = tmp_path / "home"
    run = shutil.copytree(healthy, home / "runs" / "healthy")
    with live_studio(home, engine_class.load(str(tiny_model_dir)), token="tok-1") as url:
        r = run_doctor(run, server=url, write=False, **QUICK)
    s = r.effect["serving"]
    assert s["target"].startswith("server http://127.0.0.1") and s["template_sha256"] == s["training_template_sha256"]
    if engine_class is ChatEngine:
        assert "ADAPTER_NOT_APPLIED" not in codes(r) and s["same_answers"] < s["probes"]
    else:  # decided on log-probs when the server returns them, else on answers the adapter changes
        assert codes(r)["ADAPTER_NOT_APPLIED"] == "error" and s["same_answers"] == s["probes"]
        assert r.verdict == "not_learned"


@contextmanager
def stub_server(engine: ChatEngine, template_sha: str):
    """An OpenAI-style server that returns log-probs, backed by a real engine; its template
    endpoint reports `template_sha`."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            adapter = parse_qs(url.query).get("adapter", [""])[0]
            if url.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": name} for name in [BASE, *engine.adapters]]})
            elif url.path == "/api/engine/template" and adapter in engine.adapters:
                self._send(200, {"adapter": adapter, "sha256": template_sha})
            else:
                self._send(404, {"error": {"message": f"no adapter {adapter!r}"}})

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if req["model"] not in [BASE, *engine.adapters]:
                return self._send(404, {"error": {"message": f"no model {req['model']!r}"}})
            g = engine.generate(req["messages"], adapter=req["model"], config=GenerationConfig(max_new_tokens=req["max_tokens"]))
            top = float(engine.next_token_logprobs(req["messages"], adapter=req["model"]).max())
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": g.text},
                                          "logprobs": {"content": [{"token": "", "logprob": top}]}}]})

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def test_server_with_another_template_and_its_errors(healthy, tiny_model_dir):
    engine = ChatEngine.load(str(tiny_model_dir))
    engine.add_adapter("healthy", healthy)
    with stub_server(engine, template_sha="0" * 64) as url:
        r = run_doctor(healthy, server=url, write=False, **QUICK)
        assert codes(r)["TEMPLATE_MISMATCH"] == "error" and "ADAPTER_NOT_APPLIED" not in codes(r)
        assert r.effect["serving"]["logprobs_compared"] == 4 and r.effect["serving"]["max_logprob_gap"] > 0
        with pytest.raises(StudioError, match="HTTP 404") as err:
            run_doctor(healthy, server=url, adapter="missing", write=False, **QUICK)
        assert "--server-model" in err.value.fix
    with pytest.raises(StudioError, match="could not reach the server") as err:
        run_doctor(healthy, server=f"http://127.0.0.1:{free_port()}", write=False)
    assert "--server" in err.value.fix


def test_logprob_gap():
    assert logprob_gap([-1.0, -2.0], [-1.0, -2.5]) == pytest.approx(0.5)
    assert logprob_gap(None, [-1.0]) is None and logprob_gap([-1.0], [-1.0, -2.0]) == float("inf")
    assert logprob_gap(torch.zeros(3), torch.tensor([0.0, -0.25, 0.0])) == pytest.approx(0.25)


# ---------------------------------------------------------------- preflight causes, trained with --force


def test_zero_learning_rate_leaves_the_adapter_the_identity(runs, tiny_model_dir, consistent):
    options = dict(lr=0.0, epochs=2)
    with pytest.raises(PlanRefused) as err:
        train_run(runs, "lr0", tiny_model_dir, consistent, **options)
    assert [f.code for f in err.value.findings if f.severity == "error"] == ["LR_TOO_LOW"]
    r = run_doctor(train_run(runs, "lr0", tiny_model_dir, consistent, force=True, **options), **QUICK)
    stages = {(f.code, s) for f, s in zip(r.findings, r.stages)}
    assert {("LR_TOO_LOW", "preflight"), ("LR_TOO_LOW", "live"), ("ADAPTER_IS_IDENTITY", "after")} <= stages
    identity = next(f for f in r.findings if f.code == "ADAPTER_IS_IDENTITY")
    assert identity.evidence["b_norm_max"] == 0.0 and "--lr" in identity.fix
    assert "ADAPTER_NO_EFFECT" not in codes(r)  # the more specific cause is named instead
    assert r.verdict == "not_learned" and exit_code(r) == 1


def test_warmup_longer_than_the_run(runs, tiny_model_dir, consistent):
    run = train_run(runs, "warmup", tiny_model_dir, consistent, force=True, epochs=2, warmup_steps=200)
    r = run_doctor(run, **QUICK)
    f = next(f for f in r.findings if f.code == "WARMUP_EXCEEDS_TRAINING")
    assert f.severity == "error" and f.evidence == {"warmup_steps": 200, "total_steps": 60}
    assert "--warmup-steps 3" in f.fix  # 5% of 60


def test_responses_truncated_by_a_small_max_seq_len(runs, tiny_model_dir, persona_train):
    # prompts are 14-29 tokens, whole samples 34-106: at 32 every answer is cut, none lost entirely
    run = train_run(runs, "trunc", tiny_model_dir, persona_train, force=True, max_seq_len=32)
    r = run_doctor(run, **QUICK)
    f = next(f for f in r.findings if f.code == "RESPONSES_TRUNCATED")
    assert f.severity == "error" and f.evidence["truncated_answers"] == 155 and "LABELS_MASKED" not in codes(r)


def test_labels_masked_when_every_answer_is_cut(runs, tiny_model_dir, persona_train):
    run = train_run(runs, "masked", tiny_model_dir, persona_train, force=True, max_seq_len=8)
    r = run_doctor(run, **QUICK)
    assert codes(r)["LABELS_MASKED"] == "error"
    assert codes(r)["ADAPTER_IS_IDENTITY"] == "error" and r.effect["curve"]["steps"] == 0
    assert "no optimizer step ran" in next(f for f in r.findings if f.code == "ADAPTER_IS_IDENTITY").fix
    assert r.verdict == "not_learned"


def test_duplicate_samples(runs, tiny_model_dir, consistent):
    records = json.loads(consistent.read_text(encoding="utf-8"))
    data = runs / "duplicated.json"
    data.write_text(json.dumps(records + records[:30], ensure_ascii=False), encoding="utf-8")
    r = run_doctor(train_run(runs, "dups", tiny_model_dir, data, epochs=2), **QUICK)
    f = next(f for f in r.findings if f.code == "DUPLICATE_SAMPLES")
    assert f.severity == "warning" and f.evidence == {"duplicates": 30, "share": 0.2}


def test_target_modules_missing(runs, tiny_model_dir, consistent):
    with pytest.raises(PlanRefused) as err:
        train_run(runs, "qproj", tiny_model_dir, consistent, target_modules=["qproj"])
    f = next(f for f in err.value.findings if f.code == "TARGET_MODULES_MISSING")
    assert f.evidence["missing"] == ["qproj"] and "q_proj" in f.fix
    with pytest.raises(RunError):
        train_run(runs, "qproj", tiny_model_dir, consistent, force=True, target_modules=["qproj"])
    # a refused run writes no folder (test_training), so there is nothing for the doctor to read
    with pytest.raises(RunError, match="holds no run"):
        run_doctor(runs / "qproj")


# ---------------------------------------------------------------- training-time causes


def test_too_low_learning_rate_no_decrease_and_no_effect(runs, tiny_model_dir, consistent):
    run = train_run(runs, "lowlr", tiny_model_dir, consistent, epochs=2, lr=1e-7)  # a warning only: it trains
    r = run_doctor(run, **QUICK)
    c = codes(r)
    assert c["LR_TOO_LOW"] == "warning" and c["LOSS_NOT_DECREASING"] == "warning" and c["ADAPTER_NO_EFFECT"] == "error"
    assert "ADAPTER_IS_IDENTITY" not in c and r.effect["weights"]["b_norm_max"] > Thresholds().identity_b_norm
    stage = dict(zip([f.code for f in r.findings], r.stages))
    assert stage["LOSS_NOT_DECREASING"] == "after"  # the whole curve, not only the live look
    fix = next(f for f in r.findings if f.code == "ADAPTER_NO_EFFECT").fix
    assert "--lr 1e-04" in fix and "--epochs 4 gives 120" in fix  # 30 steps per epoch
    assert r.verdict == "not_learned"


def test_diverging_learning_rate(runs, pretrained_dir, consistent):
    run = train_run(runs, "diverge", pretrained_dir, consistent, force=True, lr=1.0)
    r = run_doctor(run, **QUICK)
    assert codes(r)["LR_TOO_HIGH"] == "error" and codes(r)["LOSS_DIVERGED"] == "error"
    # Whichever saw it first names it (the live monitor, the curve, or base versus adapter loss);
    # the measured losses say training made the model worse either way.
    train = r.effect["loss"]["train"]
    assert train["adapter"] > 2 * train["base"]
    assert r.verdict == "not_learned"


def test_overfitting_on_a_few_samples(runs, pretrained_dir, persona_train):
    records = json.loads(persona_train.read_text(encoding="utf-8"))
    data = runs / "few.json"
    data.write_text(json.dumps(records[::19][:8], ensure_ascii=False), encoding="utf-8")
    # 4 training samples, 4 held out, 60 epochs at a constant lr: memorised, not generalised
    run = train_run(runs, "overfit", pretrained_dir, data, force=True, epochs=60, eval_split=0.5, eval_steps=5,
                    lr=2e-3, lr_scheduler="constant", warmup_ratio=0.0, lora_r=64, lora_alpha=128, lora_dropout=0.0,
                    target_modules=["all-linear"])
    r = run_doctor(run, **QUICK)
    f = next(f for f in r.findings if f.code == "OVERFITTING")
    assert f.evidence["last_eval"] > 1.1 * f.evidence["best_eval"] and f.evidence["train_last"] < f.evidence["train_at_best_eval"]
    assert f"--epochs {f.evidence['best_eval_step']}" in f.fix  # one step per epoch here
    assert codes(r)["TOO_FEW_SAMPLES"] == "error"


# ---------------------------------------------------------------- the seed's own scenario


def test_seed_scenario_refused_then_not_learned(runs, tiny_model_dir, persona_seed):
    options = dict(batch_size=16, grad_accum=1, epochs=3, lr=1e-4, lora_r=16, lora_alpha=32)
    with pytest.raises(PlanRefused) as err:
        train_run(runs, "seed", tiny_model_dir, persona_seed, **options)
    found = {f.code: f for f in err.value.findings}
    assert found["TOO_FEW_STEPS"].severity == found["TOO_FEW_SAMPLES"].severity == "error"
    assert "20 samples at effective batch 16 give 2 step(s) per epoch; train 50 epochs (--epochs 50) to reach 100 steps" \
        in found["TOO_FEW_STEPS"].fix

    r = run_doctor(train_run(runs, "seed", tiny_model_dir, persona_seed, force=True, **options), **QUICK)
    assert r.verdict == "not_learned" and exit_code(r) == 1
    assert "TOO_FEW_STEPS" in [b.get("code") for b in r.basis]
    # no probes given: training questions in other words were held out, and the doctor asks them
    assert "NO_HELDOUT" not in codes(r) and r.effect["probes"]["source"] == "held-out prompts made from the data"
    made = (runs / "seed" / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(made) >= 8 and all(g["kind"] == "reworded" for g in r.effect["generations"])
    trained = {r["instruction"] for r in json.loads(persona_seed.read_text(encoding="utf-8"))}
    assert not trained & {json.loads(x)["prompt"] for x in made}
    assert r.effect["curve"]["steps"] == 6

    r = run_doctor(train_run(runs, "seed-no-holdout", tiny_model_dir, persona_seed, force=True, holdout=0, **options), **QUICK)
    assert codes(r)["NO_HELDOUT"] == "warning" and r.effect["probes"]["source"] == "training prompts (no held-out data)"
    assert r.effect["loss"]["heldout"] is None  # trained prompts are not held out


# ---------------------------------------------------------------- small pieces


def test_probes_read_from_probe_files_and_datasets(persona_probes, persona_seed):
    probes = read_probes(persona_probes)
    assert len(probes) == 28 and probes[2].expect_any == ["孙悟空", "齐天大圣", "美猴王"] and probes[2].answer is None
    from_data = read_probes(persona_seed)
    assert len(from_data) == 20 and from_data[0].messages[-1]["role"] == "user" and from_data[0].answer


def test_exit_codes(healthy_report):
    from dataclasses import replace

    assert [exit_code(replace(healthy_report, verdict=v)) for v in ("learned", "not_learned", "inconclusive")] == [0, 1, 3]


def test_doctor_help_states_the_exit_codes_it_returns(tmp_path, monkeypatch, capsys):
    from typer.testing import CliRunner

    from lorastudio.cli import app, main

    help_text = " ".join(CliRunner().invoke(app, ["doctor", "--help"]).output.split())
    assert "0 learned, 1 not learned, 3 inconclusive, 2 the doctor could not run" in help_text
    monkeypatch.setattr("sys.argv", ["lorastudio", "doctor", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2 and "holds no run" in capsys.readouterr().err


def test_doctor_on_a_folder_without_a_run(tmp_path):
    with pytest.raises(RunError, match="holds no run"):
        run_doctor(tmp_path)
