"""Hostile input on the command line. Every case runs the real entry point in-process and must
end with a non-zero exit, one message that names the problem and says how to fix it, no
traceback, and every file in the workspace (a saved run, a saved dataset, the hostile file
itself) byte for byte as it was: nothing is written, replaced or lost by a refused command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from hostile_cases import DATA_CASES, GOOD_LINE
from server_fakes import booby_trapped_pickle, fake_run

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
BOX = str.maketrans({c: " " for c in "│╭╮╰╯─"})


def squash(text: str) -> str:
    """stderr as one line: rich wraps typer's usage errors in a box; the words are what count."""
    return " ".join(text.translate(BOX).split())


def cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """`lorastudio ARGS` through `lorastudio.cli.main`: (exit code, stdout, stderr squashed)."""
    from lorastudio.cli import main

    monkeypatch.setattr(sys, "argv", ["lorastudio", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, squash(captured.err)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (relative path → sha256) and every folder (→ 'dir')."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A workspace with things already saved: a finished run and a dataset. Commands run in it."""
    fake_run(tmp_path / "saved", "run")
    shutil.copy(EXAMPLES / "wukong_seed.json", tmp_path / "saved" / "good.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def refused(ws, monkeypatch, capsys):
    """Run a command that must be refused; check the exit, the message and that nothing changed."""

    def check(*args, expect: list[str], code: int = 2) -> str:
        before = snapshot(ws)
        got, out, err = cli(monkeypatch, capsys, *args)
        assert got == code, (got, out[-2000:], err)
        assert "Traceback" not in err and "Traceback" not in out
        for needle in expect:
            assert needle in err, (needle, err)
        # one message: our "error: ... fix: ..." or typer's usage error (pointing at --help, or
        # "Option '--epochs' requires an argument.", which says its own fix)
        assert err.count("error:") + err.count("Invalid value") + err.count("requires an argument") == 1, err
        assert "fix:" in err or "--help" in err or "requires an argument" in err, err
        assert snapshot(ws) == before, "a refused command changed or left files behind"
        return err

    return check


# ---------------------------------------------------------------- data files

@pytest.mark.parametrize("verb", ["inspect", "train"])
@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_file(refused, ws, tiny_model_dir, case, verb):
    name, content, expect = DATA_CASES[case]
    (ws / "hostile").mkdir()
    path = ws / "hostile" / name
    path.write_bytes(content)
    if verb == "inspect":
        refused("data", "inspect", path, expect=expect)
    else:
        refused("train", "--model", tiny_model_dir, "--data", path, "--output", ws / "out", "--force", expect=expect)


def test_a_bom_is_accepted(ws, tiny_model_dir, monkeypatch, capsys):
    """Windows editors write a UTF-8 BOM: it is not an error, for data or config files."""
    (ws / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + GOOD_LINE * 3)
    (ws / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"epochs": 2}).encode())
    code, out, err = cli(monkeypatch, capsys, "data", "inspect", ws / "bom.jsonl", "--json")
    assert code == 0, err
    assert json.loads(out)["n_samples"] == 3
    code, out, err = cli(monkeypatch, capsys, "plan", "--model", tiny_model_dir, "--data", ws / "bom.jsonl",
                         "--config", ws / "bom.json", "--json")
    assert code in (0, 1) and "Traceback" not in err, err  # 1: the plan's findings (3 samples is too few)
    assert json.loads(out)["plan"]["epochs"] == 2


# ---------------------------------------------------------------- paths and names

@pytest.mark.parametrize("args, expect", [
    (["data", "inspect", "saved"], ["is a folder, not a file"]),
    (["data", "inspect", "missing.json"], ["file not found", "check the path"]),
    (["plan", "--data", "missing.json"], ["file not found"]),
    (["plan", "--data", ""], ["--data=''", "is empty"]),
    (["plan", "--data", "good\x00.json"], ["--data=", "NUL byte"]),
    (["plan", "--data", "saved/good.json", "--eval-data", "../x\x00"], ["--eval-data=", "NUL byte"]),
    (["plan", "--data", "saved/good.json", "--probes", "p\x00.jsonl"], ["--probes=", "NUL byte"]),
    (["train", "--data", "saved/good.json", "--output", "out\x00"], ["--output=", "NUL byte"]),
    (["plan", "--data", "saved/good.json", "--output", " "], ["--output=' '", "is empty"]),
    (["plan", "--data", "saved/good.json", "--config", "cfg\x00.json"], ["--config", "embedded null byte"]),
    (["doctor", "saved"], ["holds no run", "--output folder"]),
    (["train", "--data", "saved/good.json", "--output", "saved/run"], ["already holds a run", "--resume"]),
], ids=["inspect-folder", "inspect-missing", "data-missing", "data-empty", "data-nul", "eval-data-nul", "probes-nul",
        "output-nul", "output-blank", "config-nul", "doctor-not-a-run", "output-is-a-saved-run"])
def test_bad_paths(refused, tiny_model_dir, args, expect):
    if args[0] in ("plan", "train"):
        args = [args[0], "--model", tiny_model_dir, *args[1:]]
    refused(*args, expect=expect)


def test_output_that_is_a_file(refused, ws, tiny_model_dir):
    (ws / "notes.txt").write_text("my notes")
    refused("train", "--model", tiny_model_dir, "--data", "saved/good.json", "--output", "notes.txt", "--force",
            "--epochs", "1", "--batch-size", "20", "--no-doctor", expect=["notes.txt"])


# ---------------------------------------------------------------- models and target modules

@pytest.fixture
def pickled_model(ws, tiny_model_dir) -> tuple[Path, Path]:
    """The tiny model's config and tokenizer with only a pickled pytorch_model.bin as weights."""
    folder = ws / "pickled-model"
    shutil.copytree(tiny_model_dir, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    marker = ws / "UNPICKLED"
    (folder / "pytorch_model.bin").write_bytes(booby_trapped_pickle(marker))
    return folder, marker


@pytest.mark.parametrize("model, expect", [
    ("/no/such/model", ["is neither a folder", "--model smollm2-135m"]),
    ("saved", ["has no config.json", "point --model at the folder"]),
    ("missing.gguf", ["GGUF file not found"]),
    ("x" * 5000, ["is neither a folder"]),  # longer than a file name may be: the OS refuses it
    ("~no-such-user-here/model", ["is neither a folder"]),
    ("", ["--model=''", "is empty"]),
    ("[/x]", ["'[/x]'"]),  # a hub id the hub would refuse; brackets are printed, not taken as markup
], ids=["missing-path", "folder-without-config", "missing-gguf", "name-too-long", "unknown-user-home", "empty", "markup"])
def test_bad_model(refused, model, expect):
    refused("plan", "--model", model, "--data", "saved/good.json", expect=expect)


def test_pickled_model_weights_are_refused_never_unpickled(refused, pickled_model):
    folder, marker = pickled_model
    for verb in (["plan"], ["train", "--output", "out", "--force"]):
        refused(*verb, "--model", folder, "--data", "saved/good.json", expect=["only pickled weights", "safetensors"])
    refused("chat", "--model", folder, "-p", "hi", expect=["only pickled weights"])
    assert not marker.exists()


@pytest.mark.parametrize("force", [False, True], ids=["refused", "forced"])
def test_unknown_target_modules(refused, tiny_model_dir, force):
    expect = ["no LoRA target modules resolved"] if force else ["TARGET_MODULES_MISSING", "target modules ['qproj', '[/x]']"]
    refused("train", "--model", tiny_model_dir, "--data", "saved/good.json", "--output", "out",
            "--target-modules", "qproj,[/x]", *(["--force"] if force else []), expect=expect)


# ---------------------------------------------------------------- config files

CONFIG_CASES = {
    "truncated_json": ("c.json", b'{"epochs": 3, "lr": ', ["could not be parsed", "fix the syntax"]),
    "yaml_syntax": ("c.yaml", b"epochs: [1, 2\n", ["could not be parsed"]),
    "a_list": ("c.json", b"[1, 2]", ["must hold a mapping", "one option per key"]),
    "unknown_key": ("c.json", b'{"bogus": 1}', ["unknown key 'bogus'", "known keys"]),
    "number_key": ("c.yaml", b"1: 2\n", ["unknown key '1'"]),
    "nan_value": ("c.yaml", b"lr: .nan\n", ["--lr=nan", "finite number"]),
    "string_for_int": ("c.json", b'{"epochs": "many"}', ["--epochs='many'", "valid integer"]),
    "huge_seed": ("c.json", b'{"seed": 1e400}', ["--seed=inf"]),
    "invalid_utf8": ("c.json", b'{"epochs": "\xff"}', ["could not be read", "UTF-8"]),
    "deep_nesting": ("c.json", b'{"a":' * 5000 + b"1" + b"}" * 5000, ["could not be parsed"]),
    "ten_mb_value": ("c.json", json.dumps({"epochs": "9" * 10 * 1024 * 1024}).encode(), ["--epochs=", "characters)"]),
    "missing": (None, None, ["config file not found"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_file(refused, ws, tiny_model_dir, case):
    name, content, expect = CONFIG_CASES[case]
    path = ws / (name or "absent.json")
    if content is not None:
        path.write_bytes(content)
    err = refused("train", "--model", tiny_model_dir, "--data", "saved/good.json", "--output", "out",
                  "--config", path, expect=expect)
    assert len(err) < 2000  # a 10 MB value is not echoed back whole


# ---------------------------------------------------------------- numbers: every numeric option of plan/train

INT_OPTIONS = ["epochs", "batch-size", "grad-accum", "warmup-steps", "max-seq-len", "lora-r", "seed", "save-steps", "threads"]
FLOAT_OPTIONS = ["lr", "warmup-ratio", "lora-alpha", "lora-dropout", "eval-split"]
ZERO_IS_VALID = {"warmup-steps", "seed", "save-steps", "lr", "warmup-ratio", "lora-dropout", "eval-split"}
NUMBERS = ["0", "-1", "nan", "inf", "absurd"]
NUMERIC_CASES = [(opt, v) for opt in INT_OPTIONS + FLOAT_OPTIONS for v in NUMBERS if not (v == "0" and opt in ZERO_IS_VALID)]


@pytest.mark.parametrize("option, value", NUMERIC_CASES)
def test_bad_number_for_train(refused, tiny_model_dir, option, value):
    if value == "absurd":
        value = "1e308" if option in FLOAT_OPTIONS else str(10**30)
    refused("train", "--model", tiny_model_dir, "--data", "saved/good.json", "--output", "out",
            f"--{option}", value, expect=[f"--{option}"])


@pytest.mark.parametrize("option", sorted(ZERO_IS_VALID))
def test_zero_where_zero_means_something(ws, tiny_model_dir, monkeypatch, capsys, option):
    """lr 0 (the doctor explains it), no warmup, seed 0, a checkpoint per epoch, no dropout, no
    eval split: accepted and planned."""
    before = snapshot(ws)
    code, out, err = cli(monkeypatch, capsys, "plan", "--model", tiny_model_dir, "--data", "saved/good.json",
                         f"--{option}", "0", "--json")
    assert code in (0, 1) and "Traceback" not in err, err  # 1: the plan has error findings (20 samples)
    assert json.loads(out)["plan"]["total_steps"] > 0
    assert snapshot(ws) == before


# ---------------------------------------------------------------- chat numbers and text

@pytest.mark.parametrize("option, value", [
    ("max-new-tokens", "0"), ("max-new-tokens", "-1"), ("max-new-tokens", "nan"), ("max-new-tokens", "inf"),
    ("max-new-tokens", str(10**30)),
    ("temperature", "-1"), ("temperature", "nan"), ("temperature", "inf"), ("temperature", "1e308"),
    ("top-p", "-1"), ("top-p", "nan"), ("top-p", "inf"), ("top-p", "1e308"),
    ("seed", "-1"), ("seed", str(10**30)),
])
def test_bad_number_for_chat(refused, tiny_model_dir, option, value):
    refused("chat", "--model", tiny_model_dir, "-p", "hi", f"--{option}", value, expect=[f"--{option}"])


def test_chat_zero_temperature_and_top_p_are_greedy(tiny_model_dir, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "chat", "--model", tiny_model_dir, "-p", "hi", "--temperature", "0",
                         "--top-p", "0", "--max-new-tokens", "2")
    assert code == 0 and "Traceback" not in err, err


def test_chat_prompt_that_is_not_text(refused, tiny_model_dir):
    """Bytes that are not UTF-8 on the command line reach Python as lone surrogates."""
    refused("chat", "--model", tiny_model_dir, "-p", "hi \udcff", "--max-new-tokens", "2",
            expect=["messages[0].content", "unpaired surrogate"])


def test_chat_refuses_a_pickled_adapter(refused, ws, tiny_model_dir):
    adapter = ws / "pickled-adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    (adapter / "adapter_model.bin").write_bytes(booby_trapped_pickle(ws / "UNPICKLED"))
    refused("chat", "--model", tiny_model_dir, "--adapter", adapter, "-p", "hi",
            expect=["no adapter_model.safetensors", "pickled .bin adapters are not loaded"])
    assert not (ws / "UNPICKLED").exists()


# ---------------------------------------------------------------- other verbs

@pytest.mark.parametrize("args, expect", [
    (["serve", "--port", "0"], ["--port"]),
    (["serve", "--port", "70000"], ["--port"]),
    (["serve", "--port", "nan"], ["--port"]),
    (["data", "expand", "saved/good.json", "-o", "out.json", "--target", "0"], ["--target"]),
    (["data", "expand", "saved/good.json", "-o", "out.json", "--holdout", "-1"], ["--holdout"]),
    (["data", "expand", "saved/good.json", "-o", "out.json", "--method", "magic"], ["--method 'magic'", "templates"]),
    (["plan", "--epochs"], ["--epochs", "requires an argument"]),
    (["data", "expand", "saved/good.json", "-o", "saved/run/manifest.json"], ["saved/run/manifest.json already exists", "--overwrite"]),
    (["data", "expand", "saved/good.json", "-o", "saved/run/metrics.json", "--holdout", "2"],
     ["metrics_probes.jsonl already exists", "--overwrite"]),
], ids=["port-0", "port-70000", "port-nan", "expand-target-0", "expand-holdout-neg", "expand-method", "flag-without-value",
        "expand-onto-a-saved-file", "expand-onto-a-saved-probes-file"])
def test_other_verbs(refused, ws, args, expect):
    if "saved/run/metrics.json" in args:  # a probes file saved earlier, next to where the set would go
        (ws / "saved" / "run" / "metrics_probes.jsonl").write_text('{"prompt": "mine"}\n', encoding="utf-8")
    refused(*args, expect=expect)
