"""Every fix the plan prints is right: each finding that carries an `apply` form is made to
happen, its fix applied literally, and the run planned again: the finding is gone. The printed
fix names the same flags and values as the form. Then --apply-fixes does it all from the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner
from wild_data import long_alpaca

from lorastudio import api
from lorastudio.cli import app
from lorastudio.config import flag_name
from lorastudio.errors import ConfigError

QUESTIONS = ["你好吗？", "今天天气怎么样？", "推荐一本书。", "怎么学做饭？", "什么是光合作用？", "怎样早睡早起？"]


def rows(n: int, answer=lambda i: f"这是第{i}个回答。", question=lambda i: QUESTIONS[i % 6] + f"（{i}）") -> list[dict]:
    return [{"instruction": question(i), "output": answer(i)} for i in range(n)]


def short_context_model(tiny_model_dir, tmp_path):
    """The tiny model with a 256-token context (same weights: its positions are rotary)."""
    folder = tmp_path / "short-context"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 256
    (folder / "config.json").write_text(json.dumps(config))
    return folder


CASES = {
    # code: (data, options)
    "TOO_FEW_SAMPLES": ("seed", {}),
    "TOO_FEW_STEPS": (rows(150), {"epochs": 1, "batch_size": 16, "grad_accum": 1}),
    "WARMUP_EXCEEDS_TRAINING": (rows(150), {"warmup_steps": 1000}),
    "LR_TOO_LOW": (rows(150), {"lr": 1e-7}),
    "LR_TOO_HIGH": (rows(150), {"lr": 0.05}),
    "LABELS_MASKED": (rows(120, question=lambda i: "请仔细阅读下面的长文。" * 12 + f"（{i}）"), {"max_seq_len": 64}),
    "RESPONSES_TRUNCATED": (long_alpaca(120), {"max_seq_len": 256}),
    "DUPLICATE_SAMPLES": (rows(120) + rows(40), {}),
    "NO_HELDOUT": (rows(60), {"holdout": 0}),
    "TARGET_MODULES_MISSING": (rows(120), {"target_modules": "qproj"}),
}


def _plan(model, data, **options):
    return api.plan(model=str(model), data=str(data), output="(plan only)", **options)


def _finding(setup, code):
    found = [f for f in setup.findings if f.code == code and f.apply]
    assert found, f"{code} not raised: {[f.code for f in setup.findings]}"
    return found[0]


def _printed_flags_match(finding) -> None:
    for key, value in finding.apply.items():
        shown = ",".join(value) if isinstance(value, list) else "" if value is True else str(value)
        assert f"{flag_name(key)} {shown}".strip() in finding.fix, (finding.fix, finding.apply)


@pytest.mark.parametrize("code", list(CASES))
def test_applying_the_fix_removes_the_finding(code, tiny_model_dir, persona_seed, write_json):
    data, options = CASES[code]
    path = persona_seed if data == "seed" else write_json(data)
    finding = _finding(_plan(tiny_model_dir, path, **options), code)
    _printed_flags_match(finding)
    after = _plan(tiny_model_dir, path, **{**options, **finding.apply})
    assert code not in [f.code for f in after.findings], [f.code for f in after.findings]


def test_beyond_the_models_context_the_fix_leaves_long_samples_out(tiny_model_dir, tmp_path, write_json):
    model = short_context_model(tiny_model_dir, tmp_path)
    data = write_json(long_alpaca(120))
    finding = _finding(_plan(model, data, max_seq_len=256), "RESPONSES_TRUNCATED")
    assert finding.apply == {"long_samples": "drop"} and "model's context of 256" in finding.fix
    after = _plan(model, data, max_seq_len=256, **finding.apply)
    assert "RESPONSES_TRUNCATED" not in [f.code for f in after.findings] and after.plan.dropped_too_long > 0
    with pytest.raises(ConfigError) as e:  # a max length past the context is refused, naming it
        _plan(model, data, max_seq_len=300)
    assert "--max-seq-len 300 is longer than the model's context of 256 tokens" in e.value.message
    assert e.value.fix == "use --max-seq-len 256 or less"


def test_the_fix_quotes_the_length_before_the_cut(tiny_model_dir, write_json):
    data = write_json(long_alpaca(120))
    setup = _plan(tiny_model_dir, data, max_seq_len=512)
    f = _finding(setup, "RESPONSES_TRUNCATED")
    longest = max(setup.prepared.full_lengths)
    assert longest > 512 and f.evidence["longest_sample_tokens"] == longest
    assert f.apply["max_seq_len"] >= longest and f"the longest sample has {longest} tokens" in f.fix


@pytest.mark.parametrize("shape", ["persona", "long_alpaca", "multi_turn", "short20"])
def test_the_default_recipe_passes_its_own_preflight(shape, tiny_model_dir, persona_train, persona_seed, write_json):
    """Only --model and --data: no error-level finding, or (too few samples) a fix that names the data."""
    from wild_data import messages_parts

    data = {"persona": persona_train, "short20": persona_seed, "long_alpaca": write_json(long_alpaca(200)),
            "multi_turn": write_json(messages_parts(120))}[shape]
    setup = _plan(tiny_model_dir, data)
    errors = [f for f in setup.findings if f.severity == "error"]
    if shape == "short20":
        assert [f.code for f in errors] == ["TOO_FEW_SAMPLES"] and errors[0].apply == {"expand_to": 150}
        return
    assert errors == [], [(f.code, f.title) for f in errors]
    assert setup.plan.response_truncated == 0 and setup.plan.total_steps >= 150
    assert setup.auto["max_seq_len"].value >= min(setup.prepared.full_lengths)


def test_apply_fixes_from_the_cli_then_trains(tiny_model_dir, persona_seed, tmp_path):
    r = CliRunner().invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(persona_seed), "--apply-fixes", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["applied"] == [{"code": "TOO_FEW_SAMPLES", "apply": {"expand_to": 150}}]
    assert out["config"]["expand_to"] == 150 and [f for f in out["findings"] if f["severity"] == "error"] == []
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "--model", str(tiny_model_dir), "--data", str(persona_seed), "--output", str(run),
                                 "--apply-fixes", "--epochs", "1", "--no-doctor"])
    assert r.exit_code == 0, r.output
    assert "applied the fix of TOO_FEW_SAMPLES: --expand-to 150" in r.output
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == str(run / "data" / "expanded.json") and config["expand_to"] == 150
    grown = json.loads((run / "data" / "expanded.json").read_text())
    assert len(grown) == 150 and (run / "heldout.jsonl").is_file() and (run / "manifest.json").is_file()
