"""--resume continues the same run or refuses: a checkpoint records the data's hash and the
settings that shape training, and resuming with others names each difference, exits 2 with no
traceback, and writes nothing."""

from __future__ import annotations

import json
import sys

import pytest

from lorastudio.config import make_config
from lorastudio.errors import RunError
from lorastudio.training.loop import train


@pytest.fixture
def stopped_run(tiny_model_dir, persona_seed, tmp_path):
    """A run stopped after its first epoch's checkpoint (lora_r 16)."""
    run = tmp_path / "run"
    options = dict(model=str(tiny_model_dir), data=str(persona_seed), output=str(run), epochs=3, batch_size=4,
                   grad_accum=1, lr=1e-3, max_seq_len=128, doctor=False, holdout=0)
    import threading

    stop = threading.Event()

    def on_event(e):
        if e["type"] == "checkpoint":
            stop.set()

    result = train(make_config(**options), force=True, on_event=on_event, stop=stop)
    assert result.status == "cancelled" and (run / "checkpoints").is_dir()
    return run, options


def _snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_checkpoint_records_what_shapes_the_run(stopped_run):
    run, options = stopped_run
    checkpoint = sorted((run / "checkpoints").iterdir())[-1]
    settings = json.loads((checkpoint / "state.json").read_text())["settings"]
    assert settings["lora_r"] == 16 and settings["epochs"] == 3 and settings["max_seq_len"] == 128
    assert len(settings["data_sha256"]) == 64 and settings["target_modules"]


def test_resume_with_other_settings_is_refused_naming_each(stopped_run, write_json):
    run, options = stopped_run
    before = _snapshot(run)
    other = write_json([{"instruction": f"问题{i}", "output": f"回答{i}"} for i in range(20)], "other.json")
    with pytest.raises(RunError) as e:
        train(make_config(**{**options, "lora_r": 8, "data": str(other)}), resume=True, force=True)
    text = e.value.message
    assert "--resume refused" in text and "--lora-r: checkpoint 16, now 8" in text
    assert "--data (its content): checkpoint " in text and "config.json" in e.value.fix
    assert _snapshot(run) == before  # nothing written


def test_resume_with_the_same_settings_continues(stopped_run):
    run, options = stopped_run
    result = train(make_config(**options), resume=True, force=True)
    assert result.status == "done" and (run / "manifest.json").is_file()


def test_the_cli_refuses_with_exit_2_and_no_traceback(stopped_run, monkeypatch, capsys):
    run, options = stopped_run
    from lorastudio.cli import main

    args = ["train", "--model", options["model"], "--data", options["data"], "--output", str(run), "--epochs", "3",
            "--batch-size", "4", "--grad-accum", "1", "--lr", "1e-3", "--max-seq-len", "128", "--holdout", "0",
            "--lora-r", "8", "--resume", "--force", "--no-doctor"]
    monkeypatch.setattr(sys, "argv", ["lorastudio", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--lora-r: checkpoint 16, now 8" in err and "Traceback" not in err
