"""The live monitor is honest: no loss warning during warmup or while the loss falls, however
slowly; a warning on a flat loss quotes the trend it saw. Real curves come from real runs of the
tiny model (a healthy one, and one whose learning rate is too small to move it)."""

from __future__ import annotations

import json
import random

import pytest

from lorastudio.config import make_config
from lorastudio.diagnosis.monitor import LiveMonitor, trend
from lorastudio.training.loop import train


def feed(losses, warmup=0, lr=1e-4):
    m = LiveMonitor(total_steps=len(losses) + 100, warmup_steps=warmup)
    out = []
    for step, loss in enumerate(losses, start=1):
        out += m.update(step, loss, lr, grad_norm=1.0)
    return [f for f in out if f.code == "LOSS_NOT_DECREASING"]


def test_trend_is_the_least_squares_slope():
    slope, se = trend([3.0, 2.0, 1.0, 0.0])
    assert slope == pytest.approx(-1.0) and se == pytest.approx(0.0)
    slope, se = trend([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
    assert abs(slope) < 0.1 and se > 0


def test_a_slow_noisy_fall_is_not_called_flat():
    # the shape that used to warn at step 20: 6.70 → 6.60 over ten steps, noise ±0.05
    rng = random.Random(0)
    losses = [6.75 - 0.006 * i + rng.uniform(-0.05, 0.05) for i in range(60)]
    assert feed(losses, warmup=2) == []


def test_nothing_is_said_during_warmup_even_of_a_flat_loss():
    losses = [5.0 + 0.01 * (i % 3) for i in range(45)]
    assert feed(losses, warmup=40) == []  # the check starts two windows after warmup
    late = feed(losses + [5.0] * 20, warmup=40)
    assert [f.evidence["step"] for f in late] == [60]


def test_a_flat_loss_is_called_flat_with_its_slope():
    rng = random.Random(1)
    losses = [4.0 + rng.uniform(-0.03, 0.03) for _ in range(40)]
    (f,) = feed(losses, warmup=3)
    assert f.evidence["step"] == 30 and abs(f.evidence["slope_per_step"]) < 0.01
    assert "flat over steps 11-30: slope" in f.title and "per step (±" in f.title and "just after warmup" in f.title


def _run_curve(tiny_model_dir, data, out, lr):
    config = make_config(model=str(tiny_model_dir), data=str(data), output=str(out), epochs=2, batch_size=4, grad_accum=1,
                         lr=lr, max_seq_len=128, warmup_steps=8, doctor=False, auto=False, holdout=0, save_steps=10_000,
                         target_modules="all-linear")
    train(config, force=True)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["type"] == "step"]


def test_real_curves_healthy_has_no_warning_and_flat_has_one(tiny_model_dir, persona_train, write_json, tmp_path):
    # 120 questions answered with one of three phrases: learnable by the tiny model in 60 steps
    phrases = ["嘿嘿，俺老孙来也！", "呔！俺老孙在此！", "嘿嘿，俺老孙知道！"]
    questions = [r["instruction"] for r in json.loads(persona_train.read_text(encoding="utf-8"))][:120]
    data = write_json([{"instruction": q, "output": phrases[i % 3]} for i, q in enumerate(questions)])
    healthy = _run_curve(tiny_model_dir, data, tmp_path / "healthy", 3e-3)
    assert healthy[-1]["loss"] < healthy[0]["loss"]
    assert not any(r.get("findings") for r in healthy)
    assert feed([r["loss"] for r in healthy], warmup=8) == []
    flat = _run_curve(tiny_model_dir, data, tmp_path / "flat", 1e-7)
    raised = [r for r in flat if "LOSS_NOT_DECREASING" in (r.get("findings") or [])]
    assert len(raised) == 1 and raised[0]["step"] > 8 + 20
