"""Real few-step training runs on a tiny model: files written, manifest, resume, loss normalisation."""

import json
import threading

import pytest
import torch
from safetensors.torch import load_file

from lorastudio.config import make_config
from lorastudio.errors import PlanRefused, RunError
from lorastudio.training.batching import collate, epoch_steps
from lorastudio.training.loop import forward_backward, train


def cfg(tiny_model_dir, data, out, **kw):
    base = dict(model=str(tiny_model_dir), data=str(data), output=str(out), epochs=2, batch_size=4, grad_accum=2,
                lr=2e-3, max_seq_len=128, doctor=False, auto=False)
    base.update(kw)
    return make_config(**base)


def losses(run_dir):
    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["type"] == "step"]


def test_a_run_writes_adapter_checkpoints_metrics_and_manifest(tiny_model_dir, persona_train, tmp_path):
    run = tmp_path / "run"
    result = train(cfg(tiny_model_dir, persona_train, run, eval_split=0.1), force=True)
    # 155 samples, 10% held out → 139 trained; ceil(139/4) = 35 micro-batches → 18 steps/epoch
    assert result.status == "done" and result.steps == 36
    assert {p.name for p in run.iterdir()} >= {"adapter", "checkpoints", "config.json", "plan.json", "metrics.jsonl",
                                               "manifest.json", "status.json"}
    assert {p.name for p in (run / "adapter").iterdir()} >= {"adapter_model.safetensors", "adapter_config.json"}
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["step-18", "step-36"]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 37))
    assert set(steps[0]) >= {"step", "epoch", "loss", "lr", "grad_norm", "tokens", "elapsed"}
    assert len([r for r in rows if r["type"] == "eval"]) == 2
    assert steps[-1]["loss"] < steps[0]["loss"]
    m = json.loads((run / "manifest.json").read_text())
    assert m["config"]["lr"] == 2e-3 and m["plan"]["total_steps"] == 36 and m["plan"]["n_eval"] == 16
    assert m["chat_template"].startswith("{% for message in messages %}") and len(m["chat_template_sha256"]) == 64
    assert m["base_model"]["kind"] == "local" and len(m["base_model"]["content_hash"]) == 64
    assert len(m["dataset"]["sha256"]) == 64 and m["dataset"]["format"] == "alpaca"
    assert set(m["versions"]) == {"lorastudio", "torch", "transformers", "peft"}
    assert m["metrics"]["last_loss"] == pytest.approx(steps[-1]["loss"], abs=1e-5)
    b = [v for k, v in load_file(str(run / "adapter" / "adapter_model.safetensors")).items() if "lora_B" in k]
    assert b and all(t.abs().sum() > 0 for t in b)  # trained: B moved away from its zero init
    assert json.loads((run / "status.json").read_text())["state"] == "done"


def test_resume_after_interruption_matches_an_uninterrupted_run(tiny_model_dir, persona_train, tmp_path):
    full = train(cfg(tiny_model_dir, persona_train, tmp_path / "full", save_steps=5, epochs=2), force=True)
    stop = threading.Event()
    part = train(cfg(tiny_model_dir, persona_train, tmp_path / "part", save_steps=5, epochs=2), force=True,
                 stop=stop, on_event=lambda e: e["type"] == "step" and e["step"] == 23 and stop.set())
    assert part.status == "cancelled" and part.steps == 23
    assert not (tmp_path / "part" / "manifest.json").exists()
    with pytest.raises(RunError):  # a run folder is never silently overwritten
        train(cfg(tiny_model_dir, persona_train, tmp_path / "part", save_steps=5, epochs=2), force=True)
    resumed = train(cfg(tiny_model_dir, persona_train, tmp_path / "part", save_steps=5, epochs=2), force=True, resume=True)
    assert resumed.steps == full.steps == 40
    torch.testing.assert_close(torch.tensor(losses(tmp_path / "part")), torch.tensor(losses(tmp_path / "full")), rtol=1e-5, atol=1e-6)
    a = load_file(str(tmp_path / "full" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "part" / "adapter" / "adapter_model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_accumulated_loss_and_gradients_equal_one_big_batch(tiny_model_dir, persona_train):
    from lorastudio.training.setup import plan_run

    setup = plan_run(cfg(tiny_model_dir, persona_train, "unused", init_identity=False, lora_dropout=0.0))
    model, samples, pad = setup.model, setup.prepared.train[:4], setup.tokenizer.pad_token_id
    assert len({s.n_trainable for s in samples}) > 1  # samples of different lengths: per-micro-batch mean would differ

    def run(groups):
        model.zero_grad()
        loss, _, n = forward_backward(model, [collate(g, pad) for g in groups], "cpu")
        return loss, n, [p.grad.clone() for p in model.parameters() if p.requires_grad]

    one = run([samples])
    two = run([samples[:1], samples[1:]])
    assert one[1] == two[1]
    assert abs(one[0] - two[0]) < 1e-5
    for g1, g2 in zip(one[2], two[2]):
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-6)


def test_length_grouped_steps_cover_every_sample_once_with_little_padding():
    lengths = [(i * 37) % 200 + 10 for i in range(300)]
    steps = epoch_steps(lengths, batch_size=2, grad_accum=2, seed=1, epoch=0)
    batches = [b for step in steps for b in step]
    assert sorted(i for b in batches for i in b) == list(range(300)) and len(steps) == 75
    assert all([len(b) for b in step] == [2, 2] for step in steps)  # batch_size kept without join_tokens
    pad = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    assert pad / sum(lengths) < 0.05
    assert steps != epoch_steps(lengths, batch_size=2, grad_accum=2, seed=1, epoch=1)  # a fresh order every epoch
    assert steps == epoch_steps(lengths, batch_size=2, grad_accum=2, seed=1, epoch=0)


def test_joined_micro_batches_hold_the_same_samples_within_the_token_budget():
    lengths = [(i * 37) % 200 + 10 for i in range(300)]
    plain = epoch_steps(lengths, batch_size=2, grad_accum=4, seed=1, epoch=0)
    joined = epoch_steps(lengths, batch_size=2, grad_accum=4, seed=1, epoch=0, join_tokens=600)
    assert [sorted(i for b in s for i in b) for s in joined] == [sorted(i for b in s for i in b) for s in plain]
    assert all(max(lengths[i] for i in b) * len(b) <= 600 or len(b) == 1 for s in joined for b in s)
    assert len(plain) * 2 <= sum(len(s) for s in joined) < sum(len(s) for s in plain)  # 8 samples x up to 209 tokens
    roomy = epoch_steps(lengths, batch_size=2, grad_accum=4, seed=1, epoch=0, join_tokens=4096)
    assert all(len(s) == 1 for s in roomy)  # every step one forward


def test_error_findings_refuse_to_train_without_force(tiny_model_dir, persona_seed, tmp_path):
    with pytest.raises(PlanRefused) as err:
        train(cfg(tiny_model_dir, persona_seed, tmp_path / "r", batch_size=16, grad_accum=1, epochs=3))
    assert {f.code for f in err.value.findings} >= {"TOO_FEW_STEPS", "TOO_FEW_SAMPLES"}
    assert not (tmp_path / "r").exists()


def test_a_finished_run_corrects_step_costs_measured_on_a_busy_machine(tiny_model_dir, persona_train, tmp_path, monkeypatch):
    """The cached step costs are rescaled to what a whole run took: a first measurement taken while
    the machine was busy (here: costs 20x too high) stops inflating every later estimate."""
    from lorastudio.training import estimate
    from lorastudio.training.setup import plan_run

    monkeypatch.setenv("LORASTUDIO_HOME", str(tmp_path / "home"))
    config = cfg(tiny_model_dir, persona_train, tmp_path / "first", epochs=1)
    result = train(config, force=True)
    setup = plan_run(config, load_weights=False)
    cost = estimate.cached_cost(setup)
    assert cost is not None and "a run of" in cost.measured
    busy = estimate.StepCost(cost.a * 20, cost.b * 20, cost.c * 20, cost.opt * 20, measured="busy")
    estimate._store(setup, busy)
    assert estimate.predict(setup, busy) > 10 * result.seconds
    events = []
    second = train(cfg(tiny_model_dir, persona_train, tmp_path / "second", epochs=1), force=True, on_event=events.append)
    plan = next(e["plan"] for e in events if e["type"] == "plan")  # the plan's table: the cached costs, said so
    assert plan["estimate_calibrated"] and plan["estimated_seconds"] == round(estimate.predict(setup, busy), 1)
    learned = estimate.cached_cost(setup)
    assert learned.measured != "busy"
    assert estimate.predict(setup, learned) == pytest.approx(second.seconds, rel=1e-6)  # the run's own time
