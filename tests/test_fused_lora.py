"""The fused LoRA linear layer (models/fused_lora.py) against PEFT's own forward: the same outputs,
loss and gradients (input and LoRA), with biases, bf16 base matmuls and gradient checkpointing;
and the cases that must keep PEFT's forward (mixed adapter batches, disabled adapter, dropout)."""

import pytest
import torch

from lorastudio.models import apply_lora
from lorastudio.models.fused_lora import FusedLoraLinear, _LoraLinear, fuse_lora_layers, unfuse_lora_layers
from lorastudio.models.loading import enable_checkpointing, use_bf16_matmuls
from lorastudio.training import loss as L

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _model(model_type: str = "qwen2", dropout: float = 0.0, bf16_matmuls: bool = False, checkpointing: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    config_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[model_type]
    config = config_cls(vocab_size=500, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2)  # Qwen2: q, k, v carry biases
    torch.manual_seed(0)
    base = model_cls(config)
    if bf16_matmuls:
        use_bf16_matmuls(base)
    if checkpointing:
        enable_checkpointing(base)
    return apply_lora(base, 8, 16, dropout, list(TARGETS), init_identity=False)


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(0, 500, (3, 24))
    labels = ids.clone()
    labels[:, :8] = -100
    return {"input_ids": ids, "labels": labels}


def _loss_and_grads(model, batch):
    model.zero_grad()
    torch.manual_seed(2)  # dropout's masks, where there is dropout
    loss = L.trained_token_loss(model, batch)
    (loss / 3).backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def _paths(model) -> list[str]:
    """After each LoRA layer's forward, which path it took: "fused" or "peft" (by the output's
    autograd node; the LoRA weights require gradients, so every output has one)."""
    seen = []

    def hook(module, args, output):
        seen.append("fused" if type(output.grad_fn).__name__ == "_LoraLinearBackward" else "peft")

    for m in model.modules():
        if isinstance(m, FusedLoraLinear):
            m.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("model_type, bf16_matmuls, checkpointing",
                         [("qwen2", False, False), ("llama", False, False), ("qwen2", True, False), ("qwen2", False, True)])
def test_fused_training_step_equals_peft(model_type, bf16_matmuls, checkpointing):
    model, batch = _model(model_type, bf16_matmuls=bf16_matmuls, checkpointing=checkpointing), _batch()
    model.train()
    assert sum(type(m) is FusedLoraLinear for m in model.modules()) == 14
    paths = _paths(model)
    fused = _loss_and_grads(model, batch)
    assert set(paths) == {"fused"} and len(paths) >= 14
    assert unfuse_lora_layers(model) == 14
    plain = _loss_and_grads(model, batch)
    torch.testing.assert_close(fused[0], plain[0], rtol=1e-6, atol=1e-5)
    assert fused[1].keys() == plain[1].keys() and len(fused[1]) == 28
    for name, grad in plain[1].items():
        assert grad.abs().max() > 0  # B starts non-zero: both LoRA matrices get gradients
        # bf16 matmuls round their inputs to 8 bits of mantissa: a different order of sums can
        # land a value on the other side of a rounding step (still 1e-3 of the largest gradient)
        atol = 1e-3 * float(grad.abs().max()) if bf16_matmuls else 1e-6
        torch.testing.assert_close(fused[1][name], grad, rtol=1e-4, atol=atol)


def test_input_gradient_and_output_of_one_layer():
    model = _model()
    layer = model.base_model.model.model.layers[0].self_attn.q_proj  # Qwen2's q_proj has a bias
    assert layer.base_layer.bias is not None
    x = torch.randn(2, 5, 64, requires_grad=True)
    out_fused = layer(x)
    assert type(out_fused.grad_fn) is _LoraLinear._backward_cls
    (g_fused,) = torch.autograd.grad(out_fused.square().sum(), x)
    unfuse_lora_layers(model)
    out_plain = layer(x)
    (g_plain,) = torch.autograd.grad(out_plain.square().sum(), x)
    torch.testing.assert_close(out_fused, out_plain, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_fused, g_plain, rtol=1e-5, atol=1e-6)


def test_cases_that_keep_peft_forward():
    model, batch = _model(dropout=0.1), _batch()
    ids = batch["input_ids"][:2]
    paths = _paths(model)
    model.train()
    model(input_ids=ids)  # dropout in training mode: PEFT's forward
    assert set(paths) == {"peft"}
    paths.clear()
    model.eval()  # dropout off
    model(input_ids=ids)
    assert set(paths) == {"fused"}
    paths.clear()
    with model.disable_adapter():
        model(input_ids=ids)
    model(input_ids=ids, adapter_names=["default", "__base__"])  # a mixed batch with gradients: PEFT's
    assert set(paths) == {"peft"} and len(paths) == 28


@pytest.mark.parametrize("names", [["default", "default", "__base__"], ["__base__", "default", "default"],
                                   ["default", "__base__", "default"]])  # the last: interleaved, PEFT's path
def test_mixed_batch_rows_match_fused_and_base(names):
    model, batch = _model(), _batch()
    model.eval()
    ids = batch["input_ids"]
    with torch.no_grad():
        mixed = model(input_ids=ids, adapter_names=names).logits
        fused = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
        unfuse_lora_layers(model)
        peft_mixed = model(input_ids=ids, adapter_names=names).logits
    for row, name in enumerate(names):
        torch.testing.assert_close(mixed[row], (fused if name == "default" else base)[row], rtol=1e-5, atol=1e-5)
        assert (fused[row] - base[row]).abs().max() > 1e-3  # the adapter changes the output
    torch.testing.assert_close(mixed, peft_mixed, rtol=1e-5, atol=1e-5)


def test_saved_adapter_and_merge_are_peft_behaviour(tmp_path):
    from safetensors.torch import load_file

    model, batch = _model(), _batch()
    model.eval()
    with torch.no_grad():
        before = model(input_ids=batch["input_ids"]).logits
    model.save_pretrained(tmp_path)
    names = set(load_file(tmp_path / "adapter_model.safetensors"))
    assert len(names) == 28 and all(".lora_A." in k or ".lora_B." in k for k in names)
    merged = model.merge_and_unload()
    assert not any(isinstance(m, FusedLoraLinear) for m in merged.modules())
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=batch["input_ids"]).logits, before, rtol=1e-4, atol=1e-4)


def test_fuse_counts_plain_layers_only():
    model = _model()
    assert fuse_lora_layers(model) == 0  # already fused by apply_lora
    assert unfuse_lora_layers(model) == 14 and fuse_lora_layers(model) == 14


def test_dora_keeps_peft_forward_and_its_numbers():
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=500, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    model = get_peft_model(Qwen2ForCausalLM(config), LoraConfig(r=4, target_modules=["q_proj"], use_dora=True,
                                                                init_lora_weights=False))
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    layer.lora_magnitude_vector["default"].weight.data *= 2  # at init DoRA equals plain LoRA: make it differ
    ids = _batch()["input_ids"]
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        assert fuse_lora_layers(model) == 1
        fused_class = model(input_ids=ids).logits
    torch.testing.assert_close(fused_class, plain)  # DoRA's magnitude is applied: PEFT's forward ran
