"""`tune` on the tiny model: real short trainings, scored by the doctor, the best one kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lorastudio
from lorastudio.errors import ConfigError
from lorastudio.tuning import WEIGHTS, candidate_trials, format_table, parse_budget, score

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
MARKERS = ["俺老孙", "嘿嘿", "呔"]
PHRASES = ["嘿嘿，俺老孙来也！", "呔！俺老孙在此！", "嘿嘿，俺老孙知道！"]
SHORT = dict(epochs=2, batch_size=4, grad_accum=1, max_seq_len=128, lora_r=8, lora_alpha=16, save_steps=10_000,
             target_modules=["all-linear"])


@pytest.fixture(scope="module")
def consistent(tmp_path_factory) -> Path:
    """120 persona questions answered with one of three in-character phrases (as in test_doctor)."""
    questions = [r["instruction"] for r in json.loads((EXAMPLES / "wukong_train.json").read_text(encoding="utf-8"))]
    path = tmp_path_factory.mktemp("tune-data") / "consistent.json"
    path.write_text(json.dumps([{"instruction": q, "output": PHRASES[i % 3]} for i, q in enumerate(questions[:120])],
                               ensure_ascii=False), encoding="utf-8")
    return path


def test_tune_keeps_the_trial_with_the_best_score(tmp_path, tiny_model_dir, consistent, persona_probes):
    out = tmp_path / "tune"
    seen = []
    result = lorastudio.tune(
        data=str(consistent), probes=str(persona_probes), output=str(out), budget="10m", max_trials=2,
        model=str(tiny_model_dir), markers=MARKERS, n_probes=4, force=True,  # force: lr 0 is refused otherwise
        trials=[{"lr": 0.0}, {"lr": 4e-3}], on_trial=seen.append, **SHORT,
    )
    assert [t.name for t in seen] == ["trial-1", "trial-2"] and all(t.status == "done" for t in result.trials)
    zero, trained = result.trials
    assert zero.voice == 0.0 and trained.voice > 0.0  # lr 0 leaves the base's voice
    scores = {t.name: t.score for t in result.trials}
    assert result.best == max(scores, key=scores.get) == "trial-2" and trained.score > zero.score
    # voice and knowledge measured, retention not (the random tiny base answers no general probe right)
    assert trained.retention is None
    expected = (WEIGHTS["voice"] * trained.voice + WEIGHTS["knowledge"] * trained.knowledge) / (WEIGHTS["voice"] + WEIGHTS["knowledge"])
    assert trained.score == pytest.approx(expected)
    assert (out / "best").resolve() == (out / "trial-2").resolve()
    assert (out / "best" / "adapter" / "adapter_model.safetensors").is_file()
    lines = [json.loads(x) for x in (out / "trials.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(t["name"], t["score"]) for t in lines] == [(t.name, t.score) for t in result.trials]  # as each finished
    table = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert table["best"] == "trial-2" and [t["settings"] for t in table["trials"]] == [{"lr": 0.0}, {"lr": 4e-3}]
    assert "trial-2" in format_table(result).splitlines()[2] and format_table(result).splitlines()[2].endswith(" *")


def test_a_trial_that_does_not_fit_the_budget_is_skipped(tmp_path, tiny_model_dir, consistent, persona_probes):
    result = lorastudio.tune(data=str(consistent), probes=str(persona_probes), output=str(tmp_path / "t"), budget=1e-6,
                             max_trials=2, model=str(tiny_model_dir), trials=[{}, {"lr": 1e-3}], **SHORT)
    assert [t.status for t in result.trials] == ["skipped", "skipped"] and result.best is None
    assert "of the budget left" in result.trials[0].note
    assert not os.path.lexists(tmp_path / "t" / "best") and (tmp_path / "t" / "tune.json").is_file()


def test_budget_parsing_score_and_the_recipe_grid():
    assert parse_budget("15m") == 900 and parse_budget("1h30m") == 5400 and parse_budget("90s") == 90 and parse_budget(45) == 45
    with pytest.raises(ConfigError, match="--budget"):
        parse_budget("soon")
    three = {"voice": {"adapter": 1.0}, "knowledge": {"adapter": 0.5}, "retention": {"retention": 1.25}}
    assert score(three) == pytest.approx(0.3 * 1.0 + 0.4 * 0.5 + 0.3 * 1.0)  # retention above 1 counts as 1
    assert score({"voice": None, "knowledge": None, "retention": None}) is None
    with_content = {**three, "content": {"base": 10.0, "adapter": 40.0, "answers": 8}}
    assert score(with_content) == pytest.approx((0.3 * 1.0 + 0.4 * 0.5 + 0.3 * 0.4 + 0.3 * 1.0) / 1.3)
    from lorastudio.recipes import Recipe

    grid = candidate_trials(Recipe(6, 2e-4, ["all-linear"], 0.2, 31, 186, 47, 282, 250, 60.0))
    assert grid[0] == {"epochs": 6, "lr": 2e-4, "target_modules": ["all-linear"], "mix_general": 0.2}
    assert [g["lr"] for g in grid] == [2e-4, 4e-4, 2e-4, 2e-4, 1e-4]  # one change at a time
    assert [g["target_modules"] for g in grid] == [["all-linear"]] * 2 + [None] + [["all-linear"]] * 2
    assert [g["mix_general"] for g in grid] == [0.2, 0.2, 0.2, 0.0, 0.2]
    attention = candidate_trials(Recipe(6, 2e-4, [], 0.2, 31, 186, 47, 282, 250, 60.0))
    assert len(attention) == 4 and all(g["target_modules"] is None for g in attention)


def test_tune_command_prints_the_table_and_exits_1_when_nothing_ran(tmp_path, tiny_model_dir, consistent, persona_probes):
    from typer.testing import CliRunner

    from lorastudio.cli import app

    r = CliRunner().invoke(app, ["tune", "--data", str(consistent), "--probes", str(persona_probes), "--model",
                                 str(tiny_model_dir), "--output", str(tmp_path / "t"), "--budget", "0.000001s",
                                 "--max-trials", "2"])
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    assert lines[0] == "trial-1: skipped (needs ~0 s, 0 s of the budget left)" or lines[0].startswith("trial-1: skipped")
    assert "--target-modules all-linear" not in r.output  # settings are shown as the table's own words
    assert "target-modules all-linear" in r.output and "best: none (no trial was scored)" in r.output


def test_tune_command_force_trains_what_the_plan_refuses(tmp_path, tiny_model_dir, persona_seed, persona_probes):
    """20 samples: every trial's plan has TOO_FEW_SAMPLES (an error); --force trains anyway, as the web's 'force' asks."""
    from typer.testing import CliRunner

    from lorastudio.cli import app

    args = ["tune", "--data", str(persona_seed), "--probes", str(persona_probes), "--model", str(tiny_model_dir),
            "--budget", "10m", "--max-trials", "1", "--json"]
    refused = CliRunner().invoke(app, args + ["--output", str(tmp_path / "a")])
    assert refused.exit_code == 1 and json.loads(refused.output)["trials"][0]["status"] == "refused"
    forced = CliRunner().invoke(app, args + ["--output", str(tmp_path / "b"), "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.output)["trials"][0]["status"] == "done" and (tmp_path / "b" / "best").is_dir()


def test_tune_started_with_sigint_ignored_still_stops_on_sigint(tmp_path, tiny_model_dir, consistent, persona_probes):
    # A process started in the background (`lorastudio tune ... &`, or by a studio server started
    # so) inherits SIGINT as ignored; the web studio's cancel sends SIGINT: it must still stop.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "tune"
    cmd = [sys.executable, "-m", "lorastudio", "tune", "--data", str(consistent), "--probes", str(persona_probes),
           "--model", str(tiny_model_dir), "--output", str(out), "--budget", "10m", "--max-trials", "5", "--force"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        metrics = out / "trial-1" / "metrics.jsonl"
        deadline = time.monotonic() + 120
        while not (metrics.exists() and '"step"' in metrics.read_text(encoding="utf-8")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() is not None else "no step in 120 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert "tune stopped" in proc.stdout.read()
    finally:
        proc.kill()


def test_a_stopped_tune_keeps_the_trials_that_finished(tmp_path, tiny_model_dir, consistent, persona_probes, monkeypatch):
    # Ctrl-C (or the studio's cancel) after the first trial: tune.json and best still name it;
    # a trial whose training crashes is recorded as failed and the next one runs.
    from lorastudio import tuning

    real_train, calls = tuning.train, []

    def train_failing_once(config, force=False):
        calls.append(config.output)
        if len(calls) == 2:
            raise RuntimeError("out of memory (simulated)")
        return real_train(config, force=force)

    def stop_after_two(trial):
        if trial.name == "trial-2":
            raise KeyboardInterrupt

    monkeypatch.setattr(tuning, "train", train_failing_once)
    out = tmp_path / "tune"
    with pytest.raises(KeyboardInterrupt):
        lorastudio.tune(data=str(consistent), probes=str(persona_probes), output=str(out), budget="10m", max_trials=3,
                        model=str(tiny_model_dir), markers=MARKERS, n_probes=4, force=True,
                        trials=[{"lr": 4e-3}, {"lr": 2e-3}, {"lr": 1e-3}], on_trial=stop_after_two, **SHORT)
    table = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert table["stopped"] and table["best"] == "trial-1" and len(calls) == 2
    assert [t["status"] for t in table["trials"]] == ["done", "failed"]
    assert "out of memory" in table["trials"][1]["note"]
    assert (out / "best").resolve() == (out / "trial-1").resolve()
