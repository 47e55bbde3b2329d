"""The fused output-layer loss (training/loss.py, HeadLoss) against logits + cross-entropy: the same
loss and the same LoRA gradients, in slices of any size, and the cases that must not take it."""

import pytest
import torch

from lorastudio.models import apply_lora
from lorastudio.training import loss as L


def _model(model_type: str = "qwen2", targets=("q_proj", "v_proj", "down_proj")):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    config_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[model_type]
    config = config_cls(vocab_size=3000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=model_type == "llama")
    torch.manual_seed(0)
    return apply_lora(model_cls(config), 8, 16, 0.0, list(targets), init_identity=False)


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(0, 3000, (3, 40))
    labels = ids.clone()
    labels[:, :15] = -100  # prompts
    labels[1, 30:] = -100  # a shorter answer, then padding
    return {"input_ids": ids, "labels": labels}


def _loss_and_grads(model, batch, fused: bool, monkeypatch):
    monkeypatch.setattr(L, "DEVICES", frozenset({"cpu", "cuda"}))  # the GPU's path, run here on the CPU
    if not fused:
        monkeypatch.setattr(L, "chunked_head", lambda m: None)
    model.zero_grad()
    loss = L.trained_token_loss(model, batch)
    (loss / 7).backward()  # a scale, as the loop's normalisation: backward must apply it
    monkeypatch.undo()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("model_type, rows", [("qwen2", 7), ("qwen2", 10_000), ("llama", 1)])
def test_fused_loss_equals_logits_then_cross_entropy(model_type, rows, monkeypatch):
    model, batch = _model(model_type), _batch()
    assert L.chunked_head(model) is not None
    monkeypatch.setattr(L, "CHUNK_ELEMENTS", 3000 * rows)
    fused = _loss_and_grads(model, batch, True, monkeypatch)
    monkeypatch.setattr(L, "CHUNK_ELEMENTS", 3000 * rows)
    plain = _loss_and_grads(model, batch, False, monkeypatch)
    torch.testing.assert_close(fused[0], plain[0], rtol=1e-6, atol=1e-4)
    assert fused[1].keys() == plain[1].keys() and len(fused[1]) == 12
    for name, grad in plain[1].items():
        assert grad.abs().max() > 0  # LoRA is not the identity: the gradients carry the comparison
        torch.testing.assert_close(fused[1][name], grad, rtol=1e-4, atol=1e-6)


def test_fused_loss_without_gradients_is_the_same_number(monkeypatch):
    monkeypatch.setattr(L, "DEVICES", frozenset({"cpu", "cuda"}))
    model, batch = _model(), _batch()
    with torch.no_grad():
        fused = L.trained_token_loss(model, batch)
        logits = model(input_ids=batch["input_ids"]).logits[:, :-1].float()
        plain = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"][:, 1:].flatten(), reduction="sum")
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-3)


def test_who_takes_the_plain_path():
    model = _model()
    wrapped = torch.nn.Module()
    wrapped.module = model  # any wrapper that keeps the model in .module (DDP): its forward must run
    assert L.chunked_head(wrapped) is None
    trained = _model(targets=("q_proj", "lm_head"))  # LoRA on the output layer
    assert L.chunked_head(trained) is None
    model.get_base_model().config.model_type = "gemma2"  # soft-caps its logits after the output layer
    assert L.chunked_head(model) is None


def test_a_cpu_batch_takes_the_unfused_loss(monkeypatch):
    model, batch = _model(), _batch()
    monkeypatch.setattr(L.HeadLoss, "apply", lambda *a: (_ for _ in ()).throw(AssertionError("fused on a CPU")))
    assert L.trained_token_loss(model, batch) > 0
