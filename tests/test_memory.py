"""The memory arithmetic (memory.py): parameter counts, the split, published figures, the fit search."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorastudio.config import make_config, parse_size
from lorastudio.diagnosis.preflight import check_memory
from lorastudio.errors import ConfigError
from lorastudio.memory import GiB, NF4_BYTES, MemoryPlan, ModelShape, Settings, estimate, fit, layer_bytes_per_token

CONFIGS = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "models" / "configs"
# Total parameters as the model cards publish them (Qwen2.5 cards: 0.49B/1.54B/3.09B/7.61B; the exact
# numbers are those of the released safetensors, e.g. Llama-3.1-8B's 8,030,261,248).
PUBLISHED_PARAMS = {
    "qwen2.5-0.5b": 494_032_768, "qwen2.5-1.5b": 1_543_714_304, "qwen2.5-3b": 3_085_938_688, "qwen2.5-7b": 7_615_616_512,
    "llama-3.2-1b": 1_235_814_400, "llama-3.2-3b": 3_212_749_824, "llama-3.1-8b": 8_030_261_248,
}


def shape(name: str) -> ModelShape:
    return ModelShape.from_config(json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8")))


def llama1(h, layers, heads, inter) -> ModelShape:
    """The original LLaMA shapes (vocabulary 32,000, untied), which the published tables are about."""
    return ModelShape.from_config(dict(model_type="llama", hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
                                       intermediate_size=inter, vocab_size=32000, tie_word_embeddings=False))


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_bundled_configs_have_the_published_parameter_counts(name):
    s = shape(name)
    assert s.n_params == PUBLISHED_PARAMS[name]
    assert estimate(s, Settings(dtype="bf16")).weights == 2 * PUBLISHED_PARAMS[name]  # bf16: 2 bytes each, exactly


def test_qwen25_3b_split_at_8gb_numbers():
    """Qwen2.5-3B, bf16, micro-batch 2 x 94 tokens (the persona set's longest), LoRA r16 on q,k,v,o."""
    s = shape("qwen2.5-3b")
    est = estimate(s, Settings(batch_size=2, seq_len=94, logit_positions=94, gradient_checkpointing=True))
    assert est.weights == 6_171_877_376  # 3,085,938,688 x 2
    assert est.lora_params == 7_372_800  # 36 layers x 16 x ((2048+2048) + 2 x (2048+256) + (2048+2048))
    assert est.lora == 7_372_800 * 16
    # the loss fuses the output layer: one slice of 8M // 151,936 = 55 rows of logits and their
    # log-softmax in fp32, and the gradient of the 2 x 94 hidden states (bf16)
    assert est.logits == 55 * 151_936 * 8 + 2 * 94 * 2048 * 2
    assert 6.8 * GiB < est.total < 7.6 * GiB
    ddp = estimate(s, Settings(batch_size=2, seq_len=94, logit_positions=94, gradient_checkpointing=True, world_size=2))
    assert ddp.logits == 2 * 94 * 151_936 * 12  # DDP runs the model's own forward: the logits are kept


def test_four_bit_counts_the_linear_layers_at_half_a_byte():
    s = shape("qwen2.5-7b")
    est = estimate(s, Settings(quantize="4bit"))
    embeddings = 2 * 152_064 * 3584  # untied: input and output, kept in bf16
    assert est.weights == int(s.linear_params * NF4_BYTES + (s.n_params - s.linear_params) * 2)
    assert s.n_params - s.linear_params == embeddings + 28 * (3584 + 512 + 512 + 2 * 3584) + 3584  # + biases and norms
    assert 4.9 * GiB < est.weights < 5.2 * GiB  # against 14.2 GiB in bf16


@pytest.mark.parametrize("size, bits, published_gb", [
    ("7b", 16, 16), ("7b", 8, 10), ("7b", 4, 6), ("13b", 16, 32), ("13b", 8, 16), ("13b", 4, 12),
    ("30b", 16, 80), ("30b", 8, 40), ("30b", 4, 24), ("65b", 16, 160), ("65b", 8, 80), ("65b", 4, 48),
])
def test_llama_factory_hardware_table_lies_between_our_estimates_with_and_without_checkpointing(size, bits, published_gb):
    """LLaMA-Factory's README ("Hardware Requirement", LoRA and QLoRA rows) gives one figure per model
    size and precision without saying the batch or length; at micro-batch 1 x 512 tokens with its
    default LoRA (r 8 on q_proj, v_proj), it lies between our peak with gradient checkpointing and
    without, within 10%."""
    s = {"7b": llama1(4096, 32, 32, 11008), "13b": llama1(5120, 40, 40, 13824), "30b": llama1(6656, 60, 52, 17920),
         "65b": llama1(8192, 80, 64, 22016)}[size]
    quant = {16: "none", 8: "8bit", 4: "4bit"}[bits]
    base = Settings(quantize=quant, batch_size=1, seq_len=512, lora_r=8, targets=("q_proj", "v_proj"))
    low = estimate(s, replace(base, gradient_checkpointing=True)).total / 1e9  # the table's GB
    high = estimate(s, base).total / 1e9
    assert low * 0.9 <= published_gb <= high * 1.1, (low, high)


def test_qlora_paper_claims_65b_on_48gb_and_33b_on_24gb():
    """The QLoRA paper: a 65B model finetunes on one 48 GB GPU, a 33B one on a 24 GB consumer GPU
    (4-bit NF4, double quantisation, gradient checkpointing); 16-bit LoRA needs several times that."""
    qlora = Settings(quantize="4bit", batch_size=1, seq_len=512, gradient_checkpointing=True)
    assert estimate(llama1(8192, 80, 64, 22016), qlora).total < 48 * GiB
    assert estimate(llama1(6656, 60, 52, 17920), qlora).total < 24 * GiB
    assert estimate(llama1(8192, 80, 64, 22016), replace(qlora, quantize="none")).total > 2 * 48 * GiB


def test_layer_bytes_count_each_kept_tensor():
    """SmolLM2-135M's layer (hidden 576, 9 heads of 64, 3 KV heads, MLP 1536), fp32 on CPU, LoRA r16
    on q,k,v,o with dropout: norms 2 x (4 x 576 + 4); attention (2 x 576 + 2 x 192) x 4 + 9 x 4;
    MLP 2 x 1536 x 4 (gate and up, fused; 3 x with SiLU's output); LoRA 4 x 16 x 4 + dropout output and
    noise (4 + 4) x (576 x 3 + 576)."""
    s = ModelShape.from_config(dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                                    intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True))
    expected = 2 * (4 * 576 + 4) + (2 * 576 + 2 * 192) * 4 + 9 * 4 + 2 * 1536 * 4 + 4 * 16 * 4 + 8 * 4 * 576
    assert layer_bytes_per_token(s, Settings(device="cpu", dtype="fp32", lora_dropout=0.05)) == expected
    unfused = replace(s, fused_mlp=False)  # an MLP fused_mlp.py leaves alone (remote code, GELU)
    assert layer_bytes_per_token(unfused, Settings(device="cpu", dtype="fp32", lora_dropout=0.05)) == expected + 1536 * 4
    # without dropout (the default) no dropout output or noise: q,k,v share the norm's output, kept once
    assert layer_bytes_per_token(s, Settings(device="cpu", dtype="fp32")) == expected - 8 * 4 * 576 + 4 * 576
    # on CUDA in bf16: half the attention and MLP bytes, and dropout keeps a one-byte mask
    bf16 = 2 * (4 * 576 + 4) + (2 * 576 + 2 * 192) * 2 + 9 * 4 + 2 * 1536 * 2 + 4 * 16 * 4 + 5 * 4 * 576
    assert layer_bytes_per_token(s, Settings(device="cuda", dtype="bf16", lora_dropout=0.05)) == bf16


def test_checkpointing_keeps_one_input_per_layer_plus_one_layer():
    s = shape("qwen2.5-1.5b")
    base = Settings(batch_size=4, seq_len=1024)
    full, ckpt = estimate(s, base), estimate(s, replace(base, gradient_checkpointing=True))
    per_layer = layer_bytes_per_token(s, base)
    tokens = 4 * 1024
    rope, working = 2 * 128 * 2, 4 * (8960 + 1536) * 2  # cos and sin; one layer's gradients in backward
    assert full.activations == int(tokens * (28 * per_layer + rope + working))
    assert ckpt.activations == int(tokens * (28 * 1536 * 2 + per_layer + rope + working))
    assert ckpt.activations < full.activations / 8


def test_fsdp_keeps_a_shard_plus_two_gathered_layers_per_process():
    s = shape("llama-3.1-8b")
    one = estimate(s, Settings())
    four = estimate(s, Settings(world_size=4, fsdp=True))
    layer = s.layer_params * 2
    assert four.weights == int(one.weights / 4 + 2 * layer)
    assert four.activations == one.activations and four.lora == one.lora  # the adapter stays whole
    ddp = estimate(s, Settings(world_size=4))
    assert ddp.weights == one.weights and ddp.lora == one.lora + one.lora_params * 4  # DDP's gradient buckets


def test_fit_picks_the_cheapest_change_and_its_changes_fit_when_applied():
    s = shape("qwen2.5-3b")
    run = Settings(batch_size=4, seq_len=512, logit_positions=200)  # 16.7 GiB, 9.1 of them activations
    budget = 12 * GiB
    assert estimate(s, run).total > budget
    found = fit(s, run, budget, grad_accum=2)
    assert found.changes == {"gradient_checkpointing": True}  # the cheapest: nothing else changes
    assert found.breakdown.total <= budget
    tight = fit(s, run, 7.6 * GiB, grad_accum=2)
    assert tight.changes["gradient_checkpointing"] is True
    assert tight.changes["batch_size"] * tight.changes["grad_accum"] == 4 * 2  # the same samples per step
    applied = replace(run, gradient_checkpointing=tight.changes.get("gradient_checkpointing", False),
                      batch_size=tight.changes["batch_size"], quantize=tight.changes.get("quantize", "none"),
                      seq_len=tight.changes.get("max_seq_len", 512))
    assert estimate(s, applied).total <= 7.6 * GiB


def test_a_7b_model_on_8gb_needs_4_bit_and_nothing_fits_a_70b():
    s = shape("qwen2.5-7b")
    found = fit(s, Settings(batch_size=1, seq_len=512), 8 * GiB, grad_accum=4)
    assert found.changes.get("quantize") == "4bit" and found.changes.get("gradient_checkpointing") is True
    seventy = llama1(8192, 80, 64, 28672)
    assert fit(seventy, Settings(batch_size=1, seq_len=512), 8 * GiB, grad_accum=1) is None


def test_does_not_fit_finding_carries_the_fix_as_flags_and_as_apply():
    s = shape("qwen2.5-3b")
    run = Settings(batch_size=4, seq_len=512, logit_positions=200)
    est = estimate(s, run)
    plan = MemoryPlan(est, 12 * GiB, "--gpu-memory 12GB", fit(s, run, 12 * GiB, grad_accum=2))
    [f] = check_memory(plan)
    assert f.code == "DOES_NOT_FIT" and f.severity == "error"
    assert f.apply == {"gradient_checkpointing": True}
    assert f.fix.startswith("use --gradient-checkpointing:") and "of 12.0 GiB" in f.fix
    assert f.evidence["budget"] == "12.0 GiB" and f.evidence["weights"] == "5.7 GiB"
    nothing = MemoryPlan(est, 2 * GiB, "--gpu-memory 2GB", None)
    [g] = check_memory(nothing)
    assert g.apply is None and "smaller model" in g.fix
    assert check_memory(MemoryPlan(est, 40 * GiB)) == [] and check_memory(None) == []


@pytest.mark.parametrize("text, gib", [("24GB", 24), ("8 GiB", 8), ("24", 24), ("11264MB", 11), ("0.5g", 0.5), ("1TB", 1024)])
def test_gpu_memory_sizes(text, gib):
    assert parse_size(text) == int(gib * GiB)


@pytest.mark.parametrize("bad", ["lots", "24XB", "-8GB", "0GB", "nanGB", "", "infGB", "1e-300GB"])
def test_a_bad_gpu_memory_names_the_flag(bad):
    with pytest.raises(ConfigError) as err:
        make_config(data="d.json", output="o", gpu_memory=bad)
    assert "--gpu-memory=" in err.value.message and "24GB" in err.value.message


def test_long_trained_answers_are_cut_last_and_only_as_far_as_needed():
    """Qwen2.5-0.5B, one 8,192-token sample trained throughout, where the model's own forward keeps
    the logits (two processes, or an architecture the loss cannot fuse): they are 8,192 x 151,936
    x 12 bytes, 13.9 GiB; on 6 GiB only a shorter max length fits, and the fit halves it twice.
    With the fused output layer (one process) they are one 55-row slice: checkpointing fits."""
    s = replace(shape("qwen2.5-0.5b"), fused_head=False)
    run = Settings(batch_size=1, seq_len=8192)
    assert estimate(s, run).logits == 8192 * 151_936 * 12
    found = fit(s, run, 6 * GiB, grad_accum=8)
    assert found.changes == {"gradient_checkpointing": True, "max_seq_len": 2048}
    assert found.flags() == "--gradient-checkpointing --max-seq-len 2048"
    fused = shape("qwen2.5-0.5b")
    assert estimate(fused, run).logits == 55 * 151_936 * 8 + 8192 * 896 * 2
    assert fit(fused, run, 6 * GiB, grad_accum=8).changes == {"gradient_checkpointing": True}
