"""The CLI as a user meets it: whole transcripts, exit codes, one message per mistake, no tracebacks."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lorastudio.cli import app

runner = CliRunner()


def run(*args, **kw):
    """Run `lorastudio ARGS` in a subprocess: the real entry point, its exit code and stderr."""
    return subprocess.run([sys.executable, "-m", "lorastudio", *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def test_plan_json_for_the_seed_scenario_refuses_with_fixes(tiny_model_dir, persona_seed):
    r = runner.invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(persona_seed), "--batch-size", "16",
                            "--grad-accum", "1", "--epochs", "3", "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["plan"]["steps_per_epoch"] == 2 and out["plan"]["total_steps"] == 6
    codes = {f["code"]: f for f in out["findings"]}
    # the recipe's lr for this model is 2x the usual rate (lr x alpha/r 4e-4): 50 steps are needed, not 100
    assert codes["TOO_FEW_STEPS"]["evidence"]["scaled_lr"] == pytest.approx(4e-4)
    assert codes["TOO_FEW_STEPS"]["evidence"]["recommended_min"] == 50
    assert codes["TOO_FEW_STEPS"]["severity"] == "error" and "(--epochs 25)" in codes["TOO_FEW_STEPS"]["fix"]
    assert set(codes["TOO_FEW_STEPS"]) == {"code", "severity", "title", "evidence", "fix", "apply"}
    assert codes["TOO_FEW_STEPS"]["apply"] == {"epochs": 25}


def test_config_file_accepts_the_seed_report_key_names(tiny_model_dir, persona_train, tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("num_epochs: 5\nbatch_size: 2\ngradient_accumulation_steps: 2\nlearning_rate: 1.0e-4\n"
                    "lora_rank: 16\nlora_alpha: 32\nmax_seq_length: 512\n", encoding="utf-8")
    r = runner.invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(persona_train), "--config", str(conf),
                            "--no-auto", "--json"])
    plan = json.loads(r.stdout)["plan"]
    assert (plan["epochs"], plan["effective_batch"], plan["steps_per_epoch"], plan["total_steps"]) == (5, 4, 39, 195)
    assert (plan["lr"], plan["lora_r"], plan["max_seq_len"]) == (1e-4, 16, 512)


@pytest.mark.parametrize("args, expected", [
    (["--epochs", "0"], "--epochs=0"),
    (["--lr", "nan"], "--lr=nan"),
    (["--lr", "-1"], "--lr=-1.0"),
    (["--batch-size", "-2"], "--batch-size=-2"),
    (["--lora-dropout", "1.5"], "--lora-dropout=1.5"),
    (["--max-seq-len", "99999999"], "--max-seq-len=99999999"),
    (["--target-modules", "qproj"], "TARGET_MODULES_MISSING: target modules ['qproj']"),
    (["--model", "/nonexistent/model"], "is neither a folder"),
    (["--data", "missing.json"], "missing.json"),
])
def test_bad_options_give_one_clear_message_and_exit_2(tiny_model_dir, persona_train, tmp_path, monkeypatch, capsys, args, expected):
    base = ["--model", str(tiny_model_dir), "--data", str(persona_train), "--output", str(tmp_path / "r")]
    opts = dict(zip(base[::2], base[1::2]))
    opts.update(dict(zip(args[::2], args[1::2])))
    monkeypatch.chdir(tmp_path)
    code, err = main_in_process(monkeypatch, capsys, "train", *[x for kv in opts.items() for x in kv])
    assert code == 2, err
    assert expected in err and "fix:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r" / "manifest.json").exists()


def main_in_process(monkeypatch, capsys, *args):
    """The real entry point (`lorastudio.cli.main`) in-process: exit code and stderr."""
    from lorastudio.cli import main

    monkeypatch.setattr(sys, "argv", ["lorastudio", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def test_bad_record_is_named_with_its_index_and_field(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "hi", "output": "yo"}\n{"instruction": "x", "output": ""}\n', encoding="utf-8")
    code, err = main_in_process(monkeypatch, capsys, "data", "inspect", bad)
    assert code == 2 and "record 1" in err and "output" in err and "Traceback" not in err


def test_data_inspect_reports_token_lengths(tiny_model_dir, persona_train):
    r = runner.invoke(app, ["data", "inspect", str(persona_train), "--model", str(tiny_model_dir), "--json"])
    assert r.exit_code == 0
    stats = json.loads(r.stdout)
    assert stats["format"] == "alpaca" and stats["n_samples"] == 155
    assert stats["tokens"]["response"]["max"] >= stats["tokens"]["response"]["p95"] >= stats["tokens"]["response"]["p50"] > 0


def test_train_then_chat_one_shot_and_compare(tiny_model_dir, persona_train, tmp_path):
    out = tmp_path / "run"
    r = run("train", "--model", tiny_model_dir, "--data", persona_train, "--output", out, "--epochs", "1",
            "--batch-size", "8", "--grad-accum", "1", "--lr", "3e-3", "--force", "--no-doctor", "--no-auto")
    assert r.returncode == 0, r.stderr
    assert "Training plan" in r.stdout and "total optimizer steps" in r.stdout and "20 = 20 x 1 epochs" in r.stdout
    assert "step 20/20" in r.stdout and "loss" in r.stdout and f"run folder: {out}" in r.stdout
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    r = run("chat", "--adapter", out, "-p", "你是谁？", "--max-new-tokens", "8")
    assert r.returncode == 0, r.stderr
    r = run("chat", "--adapter", out, "-p", "你是谁？", "--max-new-tokens", "8", "--compare")
    assert r.returncode == 0 and "base" in r.stdout and "adapter" in r.stdout


@pytest.mark.parametrize("args", [["--help"], ["data", "inspect", "nope.json"], ["train", "--data", "nope.json", "--output", "o"],
                                  ["plan", "--data", "nope.json", "--lr", "abc"], ["train", "--data", "nope.json", "--epochs", "0"]])
def test_help_and_mistakes_answer_before_torch_is_imported(args):
    """`--help`, a missing file and a bad option never import torch, transformers or PEFT (seconds
    of a user's time each): the modules a process imported are listed by -X importtime."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "lorastudio", *args], capture_output=True, text=True, timeout=120)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert r.returncode in (0, 2), r.stderr[-2000:]
    assert not imported & {"torch", "transformers", "peft"}, sorted(imported & {"torch", "transformers", "peft"})


# Flags the README shows for other programs: torchrun's multi-node launch and pip.
OTHER_TOOLS = {"--master-addr", "--master-port", "--nnodes", "--node-rank", "--nproc-per-node", "--no-deps"}


def test_every_flag_the_readme_shows_is_in_some_help():
    """The README and `--help` cannot drift: each `--flag` the README names is in the help of a
    command (walked through the real Typer app, wide enough that no flag is cut)."""
    import re
    from pathlib import Path

    import typer.main

    helps = []

    def walk(command, path):
        helps.append(runner.invoke(app, [*path, "--help"], env={"COLUMNS": "240"}).output)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", readme)) - OTHER_TOOLS
    missing = sorted(f for f in flags if f not in "\n".join(helps))
    assert len(flags) > 40 and missing == [], missing


# Options a run takes only from --config FILE (rarely changed; the flags stay readable).
FILE_ONLY = {"eval_steps", "init_identity", "keep_checkpoints", "lr_scheduler", "max_grad_norm", "weight_decay"}
FLAG_NAMES = {"auto": "no_auto", "doctor": "no_doctor", "vars": "var"}  # a field whose flag says it otherwise


def test_train_flags_and_the_config_fields_cannot_drift():
    """Every TrainConfig field is a train/plan flag or listed as file-only; every flag that is
    not about the command itself is a field."""
    import inspect

    from lorastudio.cli.train import _train_command
    from lorastudio.config import TrainConfig

    params = set(inspect.signature(_train_command).parameters)
    command_only = {"ctx", "config", "as_json", "force", "resume", "nproc", "apply_fixes"}
    fields = {FLAG_NAMES.get(f, f) for f in TrainConfig.model_fields} - FILE_ONLY
    assert fields == params - command_only, (sorted(fields - params), sorted(params - command_only - fields))
    assert FILE_ONLY <= set(TrainConfig.model_fields)
