"""The SwiGLU MLP as one autograd node (models/fused_mlp.py): bit-identical loss and gradients,
one intermediate-sized tensor fewer kept per token, and the MLPs it must leave alone."""

import pytest
import torch

from lorastudio.models import apply_lora
from lorastudio.models.fused_mlp import _SiluMul, fusable_mlp, fuse_mlps, unfuse_mlps
from lorastudio.models.loading import enable_checkpointing
from lorastudio.training import loss as L

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _config(model_type: str, **extra):
    from transformers import LlamaConfig, Qwen2Config

    cls = {"qwen2": Qwen2Config, "llama": LlamaConfig}[model_type]
    return cls(vocab_size=500, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, **extra)


def _model(model_type: str = "llama", targets=TARGETS, dropout: float = 0.0, checkpointing: bool = False):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(_config(model_type))
    if checkpointing:
        enable_checkpointing(base)
    model = apply_lora(base, 8, 16, dropout, list(targets), init_identity=False)  # fuses LoRA layers and MLPs
    model.train()
    return model


def _step(model):
    torch.manual_seed(1)
    ids = torch.randint(0, 500, (3, 24))
    labels = ids.clone()
    labels[:, :8] = -100
    model.zero_grad()
    torch.manual_seed(2)  # LoRA dropout's masks, where there is dropout
    loss = L.trained_token_loss(model, {"input_ids": ids, "labels": labels})
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def _mlps(model):
    return [m for m in model.modules() if type(m).__name__.endswith("MLP")]


@pytest.mark.parametrize("model_type, targets, dropout, checkpointing", [
    ("llama", TARGETS, 0.0, False),
    ("qwen2", TARGETS, 0.0, False),
    ("qwen2", ["q_proj", "v_proj"], 0.0, False),  # no LoRA in the MLP: gradients still flow through it
    ("llama", TARGETS, 0.1, False),  # dropout: the same random draws in the same order
    ("qwen2", TARGETS, 0.0, True),
])
def test_fused_mlp_gives_the_same_loss_and_gradients_bit_for_bit(model_type, targets, dropout, checkpointing, monkeypatch):
    model = _model(model_type, targets, dropout, checkpointing)
    runs = []
    forward = _SiluMul.forward
    monkeypatch.setattr(_SiluMul, "forward", staticmethod(lambda ctx, gate, up: runs.append(1) or forward(ctx, gate, up)))
    fused = _step(model)
    assert len(runs) == (4 if checkpointing else 2)  # each layer's MLP, and again in the recompute
    assert unfuse_mlps(model) == 2
    runs.clear()
    plain = _step(model)
    assert not runs
    assert torch.equal(fused[0], plain[0])
    assert fused[1].keys() == plain[1].keys() and fused[1]
    for name, grad in plain[1].items():
        assert grad.abs().max() > 0, name
        assert torch.equal(fused[1][name], grad), name


def test_the_fused_node_keeps_gate_and_up_only():
    """Autograd's SiLU-times-up keeps three intermediate-sized tensors, the fused node two."""
    gate, up = torch.randn(2, 16, 160, requires_grad=True), torch.randn(2, 16, 160, requires_grad=True)

    def kept(fn) -> int:
        storages = {}

        def pack(t):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = fn(gate, up)
        return sum(storages.values()), out

    plain_bytes, plain = kept(lambda g, u: torch.nn.functional.silu(g) * u)
    fused_bytes, fused = kept(_SiluMul.apply)
    assert plain_bytes == 3 * gate.numel() * 4 and fused_bytes == 2 * gate.numel() * 4
    assert torch.equal(fused, plain)
    g = torch.randn_like(plain)
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad(fused, (gate, up), g), torch.autograd.grad(plain, (gate, up), g)))


def test_which_mlps_are_fused_and_what_stays():
    from transformers import AutoModelForCausalLM
    from transformers.models.llama.modeling_llama import LlamaMLP

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(_config("llama"))
    keys = list(model.state_dict())
    assert fuse_mlps(model) == 2 and fuse_mlps(model) == 0  # a second call finds nothing left to fuse
    mlp = _mlps(model)[0]
    assert isinstance(mlp, LlamaMLP) and type(mlp) is not LlamaMLP and type(mlp).__name__ == "LlamaMLP"
    assert list(model.state_dict()) == keys
    with torch.no_grad():  # no gradients: the MLP's own forward
        x = torch.randn(1, 5, 64)
        assert torch.equal(mlp(x), LlamaMLP.forward(mlp, x))
    assert unfuse_mlps(model) == 2 and type(_mlps(model)[0]) is LlamaMLP

    gelu = AutoModelForCausalLM.from_config(_config("llama", hidden_act="gelu"))  # not SwiGLU: left alone
    assert not fusable_mlp(_mlps(gelu)[0]) and fuse_mlps(gelu) == 0

    class OwnForward(LlamaMLP):  # remote code with a forward of its own: left alone
        def forward(self, x):
            return self.down_proj(self.act_fn(self.up_proj(x)) * self.gate_proj(x))

    assert not fusable_mlp(OwnForward(_config("llama")))


def test_the_memory_plan_knows_which_models_are_fused():
    from transformers import AutoModelForCausalLM

    from lorastudio.training.hardware import model_shape

    with torch.device("meta"):
        silu = AutoModelForCausalLM.from_config(_config("qwen2"))
        gelu = AutoModelForCausalLM.from_config(_config("qwen2", hidden_act="gelu"))
    assert model_shape(silu).fused_mlp is True
    assert model_shape(gelu).fused_mlp is False
