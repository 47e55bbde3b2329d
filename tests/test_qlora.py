"""QLoRA on this CPU: bitsandbytes' CPU backend quantises the base to NF4 at load time, PEFT's k-bit
preparation runs, the adapter trains, and merging goes into the full-precision weights."""

import json
import math
import subprocess
import sys
from statistics import fmean

import pytest
import torch

from lorastudio.config import make_config
from lorastudio.serving.registry import Registry
from lorastudio.training.loop import train
from lorastudio.training.setup import plan_run

pytest.importorskip("bitsandbytes")  # in the test extra; its CPU backend runs everything below


def config(tiny_model_dir, persona_train, out, **kw):
    return make_config(model=str(tiny_model_dir), data=str(persona_train), output=str(out), quantize="4bit", epochs=2,
                       max_seq_len=128, lr=1e-2, lora_dropout=0.0, threads=1, doctor=False, init_identity=False, auto=False,
                       **kw)


def test_a_4bit_base_trains_and_merges_into_the_full_precision_weights(tiny_model_dir, persona_train, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = config(tiny_model_dir, persona_train, tmp_path / "runs" / "q4")
    setup = plan_run(cfg)
    q_proj = setup.model.base_model.model.model.layers[0].self_attn.q_proj
    assert type(q_proj.base_layer).__name__ == "Linear4bit" and q_proj.base_layer.weight.quant_type == "nf4"
    assert q_proj.base_layer.weight.quant_state.nested  # double quantisation
    assert q_proj.lora_A["default"].weight.dtype == torch.float32 and q_proj.lora_A["default"].weight.requires_grad
    assert not any(p.requires_grad for n, p in setup.model.named_parameters() if "lora_" not in n)  # the base is frozen
    assert setup.memory.breakdown.detail["quantized_params"] > 0

    result = train(cfg, force=True, setup=setup)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "runs" / "q4" / "metrics.jsonl").read_text().splitlines()]
    assert result.status == "done" and fmean(losses[-5:]) < fmean(losses[:5]) - 0.05, losses  # step-to-step noise ~0.02

    dest = Registry(tmp_path / "runs").merge("q4", tmp_path / "merged")
    merged_config = json.loads((dest / "config.json").read_text())
    assert "quantization_config" not in merged_config  # plain weights, loadable anywhere
    ids = torch.tensor([[5, 17, 42, 99, 3, 250]])
    merged = AutoModelForCausalLM.from_pretrained(dest).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert merged.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    with torch.no_grad():
        base_logits = base(ids).logits
        expected = PeftModel.from_pretrained(base, tmp_path / "runs" / "q4" / "adapter").eval()(ids).logits
        got = merged(ids).logits
    # merged into the original fp32 weights, not into their 4-bit rounding
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(base_logits, expected, atol=1e-3)


def test_a_4bit_plan_counts_half_a_byte_per_linear_weight(tiny_model_dir, persona_train, tmp_path):
    plain = plan_run(config(tiny_model_dir, persona_train, tmp_path / "a", gpu_memory="8GB").model_copy(update={"quantize": "none"}),
                     load_weights=False)
    q4 = plan_run(config(tiny_model_dir, persona_train, tmp_path / "b", gpu_memory="8GB"), load_weights=False)
    linear = q4.memory.breakdown.detail["quantized_params"]
    saved = plain.memory.breakdown.weights - q4.memory.breakdown.weights
    assert saved == pytest.approx(linear * (2 - 4.127 / 8), abs=2)


def test_without_bitsandbytes_the_message_names_what_is_needed(tiny_model_dir, persona_train, tmp_path):
    """A machine without bitsandbytes (a Python that cannot import it): one clear message, no traceback."""
    code = ("import sys; sys.modules['bitsandbytes'] = None\n"
            "from lorastudio.cli import main\n"
            f"sys.argv = ['lorastudio', 'train', '--model', {str(tiny_model_dir)!r}, '--data', {str(persona_train)!r},"
            f" '--output', {str(tmp_path / 'r')!r}, '--quantize', '4bit', '--force', '--no-doctor']\n"
            "main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "--quantize 4bit needs a CUDA GPU and bitsandbytes" in r.stderr and "pip install bitsandbytes" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_8bit_base_trains_too(tiny_model_dir, persona_train, tmp_path):
    cfg = config(tiny_model_dir, persona_train, tmp_path / "q8").model_copy(update={"quantize": "8bit", "epochs": 1})
    setup = plan_run(cfg)
    q_proj = setup.model.base_model.model.model.layers[0].self_attn.q_proj
    assert type(q_proj.base_layer).__name__ == "Linear8bitLt" and q_proj.base_layer.weight.dtype == torch.int8
    result = train(cfg, force=True, setup=setup)
    assert result.status == "done" and math.isfinite(result.last_loss)
    assert (tmp_path / "q8" / "adapter" / "adapter_model.safetensors").is_file()
