"""The doctor's rules on numbers alone: no model, no training. Each rule is fed the dicts the
measurements produce (a metrics.jsonl read by read_curve, an effect dict) and must name the
right finding, or none; the verdict follows from them."""

from __future__ import annotations

import json

from lorastudio.diagnosis.effect import read_curve
from lorastudio.run_folder import RunFolder
from lorastudio.diagnosis.rules import Findings, curve_findings, decide, effect_findings, finding_from_dict
from lorastudio.diagnosis.thresholds import Thresholds

T = Thresholds()
PLAN = {"steps_per_epoch": 10, "n_train": 40, "target_modules": ["q_proj", "v_proj"], "label_coverage": 0.6}
CONFIG = {"lr": 2e-4, "lora_alpha": 32, "lora_r": 16}


def curve(tmp_path, losses, evals=()):
    rows = [{"type": "step", "step": i + 1, "loss": x, "lr": 1e-4} for i, x in enumerate(losses)]
    rows += [{"type": "eval", "step": s, "eval_loss": x} for s, x in evals]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return read_curve(RunFolder(tmp_path).metrics(), T)


def codes(found):
    return {f.code: f.severity for f in found.items}


def test_a_falling_curve_raises_nothing(tmp_path):
    found = Findings()
    curve_findings(found, curve(tmp_path, [3.0 - 0.02 * i for i in range(100)]), PLAN, CONFIG, T)
    assert codes(found) == {}


def test_a_flat_curve_at_a_tiny_lr_says_raise_the_lr(tmp_path):
    found = Findings()
    curve_findings(found, curve(tmp_path, [3.0 + 0.01 * (i % 2) for i in range(60)]), PLAN, {**CONFIG, "lr": 1e-6}, T)
    (f,) = found.items
    assert f.code == "LOSS_NOT_DECREASING" and "raise --lr from 1e-06 to 1e-04" in f.fix


def test_a_blow_up_and_nan_are_divergence(tmp_path):
    found = Findings()
    curve_findings(found, curve(tmp_path, [2.0] * 20 + [5.0] * 5), PLAN, CONFIG, T)
    assert codes(found)["LOSS_DIVERGED"] == "error" and found.get("LOSS_DIVERGED").evidence["peak_loss"] == 5.0
    found = Findings()
    curve_findings(found, curve(tmp_path, [2.0] * 5 + [float("nan")]), PLAN, CONFIG, T)
    assert found.items[0].evidence["step"] == 6


def test_eval_loss_rising_while_training_falls_is_overfitting(tmp_path):
    found = Findings()
    c = curve(tmp_path, [3.0 - 0.02 * i for i in range(100)], evals=[(20, 2.0), (40, 1.8), (60, 2.2), (100, 2.6)])
    curve_findings(found, c, PLAN, CONFIG, T)
    (f,) = found.items
    assert f.code == "OVERFITTING" and f.evidence["best_eval_step"] == 40 and "--epochs 4" in f.fix


def effect(zero_b=0, steps=100, kl=0.5, base=3.0, adapter=2.0):
    return {"weights": {"modules": 8, "zero_b_modules": zero_b, "b_norm_max": 0.0 if zero_b == 8 else 0.3, "file_bytes": 1000,
                        "non_finite_modules": [], "delta_rel_mean": 0.01},
            "curve": {"steps": steps, "max_lr": 2e-4, "drop": 0.3},
            "loss": {"train": {"base": base, "adapter": adapter, "drop": (base - adapter) / base}},
            "kl": {"mean": kl, "probes": 16}}


def test_an_untouched_adapter_is_the_identity_and_says_why():
    found = Findings()
    effect_findings(found, effect(zero_b=8, steps=0), PLAN, CONFIG, T)
    f = found.get("ADAPTER_IS_IDENTITY")
    assert f.severity == "error" and "no optimizer step ran" in f.fix
    assert decide(found, effect(zero_b=8, steps=0), T)[0] == "not_learned"


def test_a_tiny_kl_is_no_effect_and_a_worse_loss_is_divergence():
    found = Findings()
    effect_findings(found, effect(kl=1e-5, adapter=2.99), PLAN, {**CONFIG, "lr": 1e-6}, T)
    assert codes(found) == {"ADAPTER_NO_EFFECT": "error"} and "--lr 1e-04" in found.items[0].fix
    found = Findings()
    effect_findings(found, effect(adapter=7.0), PLAN, CONFIG, T)
    assert codes(found) == {"LOSS_DIVERGED": "error"}


def test_the_verdict_follows_the_numbers():
    healthy = effect()
    assert decide(Findings(), healthy, T)[0] == "learned"
    assert decide(Findings(), effect(adapter=2.95), T)[0] == "inconclusive"  # loss barely moved, nothing blocking
    basis = {b["name"]: b for b in decide(Findings(), healthy, T)[1]}
    assert basis["train_loss_drop"]["ok"] and basis["kl_mean"]["value"] == 0.5


def test_findings_read_back_keep_their_fix_form_and_skip_unknown_codes():
    d = {"code": "TOO_FEW_STEPS", "severity": "error", "title": "t", "evidence": {}, "fix": "f", "apply": {"epochs": 50}}
    assert finding_from_dict(d).apply == {"epochs": 50}
    assert finding_from_dict({**d, "code": "FROM_A_NEWER_VERSION"}) is None
